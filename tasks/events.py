"""What subscribers receive: task snapshots and the events that change them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from tasks.rows import TaskRow
from tasks.status import TERMINAL_VALUES, LogLevel, TaskStatus

ModelT = TypeVar("ModelT", bound=BaseModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def trusted(cls: type[ModelT], values: dict[str, Any], private: dict[str, Any] | None = None) -> ModelT:
    """`cls.model_construct(**values)` for values that name every field, without its
    per-field alias and default lookups: several snapshots and events are made per
    task, and model_construct was the engine's largest single cost. A class with
    private attributes and no `model_post_init` of its own may pass their values
    (`private`): pydantic's post-init only set their defaults, at a third of the cost."""
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", private)
    if private is None and cls.__pydantic_post_init__:
        model.model_post_init(None)
    return model


class EventType(str, Enum):
    SNAPSHOT = "snapshot"
    STATUS = "status"
    LOG = "log"
    ARTIFACT = "artifact"
    MESSAGE = "message"
    RESULT = "result"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


BUILTIN_EVENT_TYPES: frozenset[str] = frozenset(t.value for t in EventType)
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset({EventType.RESULT.value, EventType.ERROR.value})
# Custom event names (`task.emit`): safe in an SSE `event:` line and a URL.
CUSTOM_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")


def check_custom_event_name(name: str) -> str:
    """The name of a custom event, or ValueError saying why it cannot be one."""
    if not isinstance(name, str) or not CUSTOM_EVENT_NAME.match(name):
        raise ValueError(
            f"invalid event name {name!r}: 1-64 characters, a letter first, then letters, digits, '_', '.', ':', '-'"
        )
    if name in BUILTIN_EVENT_TYPES:
        raise ValueError(f"{name!r} is a built-in event type; choose another name for a custom event")
    return name


class TaskSnapshot(BaseModel):
    """A task as clients see it; the first five keys are the original API's."""

    model_config = ConfigDict(use_enum_values=True)

    task_id: str
    status: TaskStatus
    progress: float
    result: Any = None
    timestamp: datetime
    state: str
    task: str
    client: str | None = None
    message: str | None = None
    error: str | None = None
    error_code: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 1
    retry_of: str | None = None
    cancel_requested: bool = False
    last_event_id: int = 0

    @classmethod
    def of(cls, record: TaskRow) -> TaskSnapshot:
        """Built without re-validation: every field comes from a row the engine wrote
        (this runs several times per task on the hot path)."""
        return trusted(
            cls,
            {
                "task_id": record.id,
                "status": record.status,  # the value, as a validated snapshot holds it (use_enum_values)
                "progress": record.progress,
                "result": record.result,
                "timestamp": as_utc(record.updated_at) or utcnow(),
                "state": record.state,
                "task": record.task,
                "client": record.client,
                "message": record.message,
                "error": record.error,
                "error_code": record.error_code,
                "created_at": as_utc(record.created_at) or utcnow(),
                "started_at": as_utc(record.started_at),
                "finished_at": as_utc(record.finished_at),
                "attempt": record.attempt,
                "retry_of": record.retry_of,
                "cancel_requested": record.cancel_requested_at is not None,
                "last_event_id": record.last_event_id,
            },
        )

    @property
    def is_terminal(self) -> bool:
        return str(self.status) in TERMINAL_VALUES


class TaskEvent(BaseModel):
    """One event of one task. Status-like events carry the whole snapshot, so an
    original-API client reading `status`/`progress`/`result` from any message works."""

    id: int
    task_id: str
    type: str  # an EventType, or a custom event's name
    timestamp: datetime
    snapshot: TaskSnapshot | None = None
    level: LogLevel | None = None
    message: str | None = None
    hint: str | None = None
    data: Any = None
    _wire_text: str | None = PrivateAttr(default=None)

    @classmethod
    def made(
        cls,
        id: int,
        task_id: str,
        type: str,
        timestamp: datetime,
        snapshot: TaskSnapshot | None = None,
        level: LogLevel | None = None,
        message: str | None = None,
        hint: str | None = None,
        data: Any = None,
    ) -> TaskEvent:
        """An event from the engine's own values: no re-validation on the hot path."""
        values = {
            "id": id,
            "task_id": task_id,
            "type": type,
            "timestamp": timestamp,
            "snapshot": snapshot,
            "level": level,
            "message": message,
            "hint": hint,
            "data": data,
        }
        return trusted(cls, values, {"_wire_text": None})

    @property
    def is_durable(self) -> bool:
        """Kept in the store and replayed on resume: everything but progress ticks."""
        return self.type != EventType.STATUS and self.type != EventType.SNAPSHOT

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENT_TYPES

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on WebSocket and SSE streams."""
        body: dict[str, Any] = {"type": str(self.type), "id": self.id}
        if self.snapshot is not None:
            body.update(self.snapshot.model_dump(mode="json"))
        # UTC written with "Z", as pydantic writes the snapshot's times beside it.
        body.update(task_id=self.task_id, timestamp=self.timestamp.isoformat().replace("+00:00", "Z"))
        if self.level is not None:
            body["level"] = self.level.value
        if self.message is not None:
            body["message"] = self.message
        if self.hint is not None:
            body["hint"] = self.hint
        if self.data is not None:
            body["data"] = self.data
        return body

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> TaskEvent:
        """A copy is another event: it builds its own wire text."""
        copy = super().model_copy(update=update, deep=deep)
        copy._wire_text = None
        return copy

    def wire_text(self) -> str:
        """`wire()` as compact JSON, built once: every watcher of an event (a thousand
        on a busy task) sends the same text. Events are never changed once made."""
        private = self.__pydantic_private__  # direct: pydantic's attribute lookup showed up per watcher
        assert private is not None
        text: str | None = private["_wire_text"]
        if text is None:
            text = private["_wire_text"] = json.dumps(self.wire(), separators=(",", ":"))
        return text

    def stored_data(self) -> dict[str, Any]:
        """What goes in task_event.data: everything but the keys that have columns."""
        return self.model_dump(mode="json", exclude={"id", "task_id", "type", "timestamp"}, exclude_none=True)

    @classmethod
    def from_stored(
        cls, task_id: str, event_id: int, type_: str, timestamp: datetime, data: dict[str, Any]
    ) -> TaskEvent:
        return cls(id=event_id, task_id=task_id, type=type_, timestamp=as_utc(timestamp), **(data or {}))


@dataclass(frozen=True)
class TaskInspection:
    """Everything known about one task: what its detail page and `GET /api/tasks/<id>` show."""

    snapshot: TaskSnapshot
    args: Any
    worker_id: str | None
    events: list[TaskEvent]
