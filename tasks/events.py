"""What subscribers receive: task snapshots and the events that change them."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from tasks.status import LogLevel, TaskStatus
from tasks.tables import TaskRecord


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


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


DURABLE_EVENT_TYPES = frozenset({EventType.LOG, EventType.ARTIFACT, EventType.MESSAGE, EventType.RESULT, EventType.ERROR})
TERMINAL_EVENT_TYPES = frozenset({EventType.RESULT, EventType.ERROR})


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
    last_event_id: int = 0

    @classmethod
    def of(cls, record: TaskRecord) -> TaskSnapshot:
        """Built without re-validation: every field comes from a row the engine wrote
        (this runs several times per task on the hot path)."""
        return cls.model_construct(
            task_id=record.id,
            status=record.status,
            progress=record.progress,
            result=record.result,
            timestamp=as_utc(record.updated_at) or utcnow(),
            state=record.state,
            task=record.task,
            client=record.owner,
            message=record.message,
            error=record.error,
            error_code=record.error_code,
            created_at=as_utc(record.created_at) or utcnow(),
            started_at=as_utc(record.started_at),
            finished_at=as_utc(record.finished_at),
            last_event_id=record.last_event_id,
        )

    @property
    def is_terminal(self) -> bool:
        return TaskStatus(self.status).is_terminal


class TaskEvent(BaseModel):
    """One event of one task. Status-like events carry the whole snapshot, so an
    original-API client reading `status`/`progress`/`result` from any message works."""

    id: int
    task_id: str
    type: EventType
    timestamp: datetime
    snapshot: TaskSnapshot | None = None
    level: LogLevel | None = None
    message: str | None = None
    hint: str | None = None
    data: Any = None

    @property
    def is_durable(self) -> bool:
        return self.type in DURABLE_EVENT_TYPES

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENT_TYPES

    def wire(self) -> dict[str, Any]:
        """The JSON object sent on WebSocket and SSE streams."""
        body: dict[str, Any] = {"type": self.type.value, "id": self.id}
        if self.snapshot is not None:
            body.update(self.snapshot.model_dump(mode="json"))
        body.update(task_id=self.task_id, timestamp=self.timestamp.isoformat())
        if self.level is not None:
            body["level"] = self.level.value
        if self.message is not None:
            body["message"] = self.message
        if self.hint is not None:
            body["hint"] = self.hint
        if self.data is not None:
            body["data"] = self.data
        return body

    def stored_data(self) -> dict[str, Any]:
        """What goes in task_event.data: everything but the keys that have columns."""
        return self.model_dump(mode="json", exclude={"id", "task_id", "type", "timestamp"}, exclude_none=True)

    @classmethod
    def from_stored(cls, task_id: str, event_id: int, type_: str, timestamp: datetime, data: dict[str, Any]) -> TaskEvent:
        return cls(id=event_id, task_id=task_id, type=EventType(type_), timestamp=as_utc(timestamp), **(data or {}))
