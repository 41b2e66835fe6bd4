"""Response models at the HTTP edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json

from tasks.events import EventType, TaskEvent, TaskInspection, TaskSnapshot


class TaskLinks(BaseModel):
    self: str
    result: str
    stream: str
    ws: str


class TaskOut(TaskSnapshot):
    """A task snapshot plus where to read its result and stream its events."""

    links: TaskLinks


def task_links(snap: TaskSnapshot, token: str | None = None) -> dict[str, str]:
    """Where to read and stream the task; owned tasks stream on the token route."""
    ws = f"/ws/{snap.state}/tasks/{token}/{snap.task_id}" if token else f"/ws/{snap.state}/task/ws/{snap.task_id}"
    return {
        "self": f"/api/tasks/{snap.task_id}",
        "result": f"/api/{snap.state}/task/result/{snap.task_id}",
        "stream": f"/api/tasks/{snap.task_id}/stream",
        "ws": ws,
    }


def task_out(snap: TaskSnapshot, token: str | None = None) -> dict[str, Any]:
    return {**snap.model_dump(mode="json"), "links": task_links(snap, token)}


def task_response(snap: TaskSnapshot, status_code: int = 200, token: str | None = None) -> Response:
    """A TaskOut body serialised once, skipping FastAPI's re-validation of a
    snapshot the engine already validated (the start and result hot paths)."""
    body = snap.model_dump_json().encode()
    links = to_json(task_links(snap, token))
    return Response(body[:-1] + b',"links":' + links + b"}", status_code=status_code, media_type="application/json")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    bus: str


class LogOut(BaseModel):
    id: int
    timestamp: datetime
    level: str
    message: str


class ArtifactOut(BaseModel):
    id: int
    timestamp: datetime
    name: str
    label: str
    mime: str
    size: int
    url: str


class MessageOut(BaseModel):
    id: int
    timestamp: datetime
    body: Any


class CustomEventOut(BaseModel):
    """An event the task sent with `task.emit(type, data)`."""

    id: int
    timestamp: datetime
    type: str
    data: Any


class TaskListItem(TaskOut):
    """A listed task; with `?include=logs`, its logs too (the newest ones if many)."""

    logs: list[LogOut] | None = None
    logs_truncated: bool | None = None


class TaskPage(BaseModel):
    """One page of `GET /api/tasks`; pass `next_cursor` back as `cursor` (absent at the end)."""

    data: list[TaskListItem]
    next_cursor: str | None = None
    total: int | None = None  # with ?include=total


class TaskDetail(TaskOut):
    """A task with its args, logs, artifacts, intervention messages and custom events."""

    args: Any = None
    worker: str | None = None  # the backend worker that runs (or ran) it: see /api/admin/workers
    logs: list[LogOut]
    artifacts: list[ArtifactOut]
    messages: list[MessageOut]
    events: list[CustomEventOut]


def log_out(event: TaskEvent) -> LogOut:
    level = event.level.value if event.level is not None else "info"
    return LogOut(id=event.id, timestamp=event.timestamp, level=level, message=event.message or "")


def task_detail(found: TaskInspection) -> TaskDetail:
    """Sorts a task's durable events into the sections of its detail."""
    logs, artifacts, messages, custom = [], [], [], []
    for event in found.events:
        if event.type == EventType.LOG:
            logs.append(log_out(event))
        elif event.type == EventType.ARTIFACT and isinstance(event.data, dict):
            artifacts.append(ArtifactOut(id=event.id, timestamp=event.timestamp, **event.data))
        elif event.type == EventType.MESSAGE:
            messages.append(MessageOut(id=event.id, timestamp=event.timestamp, body=event.data))
        elif event.type not in (EventType.RESULT, EventType.ERROR):
            custom.append(CustomEventOut(id=event.id, timestamp=event.timestamp, type=str(event.type), data=event.data))
    return TaskDetail(
        **task_out(found.snapshot),
        args=found.args,
        worker=found.worker_id,
        logs=logs,
        artifacts=artifacts,
        messages=messages,
        events=custom,
    )


class TaskInfo(BaseModel):
    name: str
    kind: str  # "static" (direct route) or "instance" (client-token route)
    doc: str
    args_schema: dict[str, Any] | None
    timeout: float | None
    max_concurrency: int | None
    retention: float | None
    retries: int
    start: str


class StateInfo(BaseModel):
    name: str
    module: str
    readme: str | None
    tasks: list[TaskInfo]


class Catalog(BaseModel):
    states: list[StateInfo]


class Deleted(BaseModel):
    deleted: int


class Delivered(BaseModel):
    delivered: bool
    task: TaskOut
