"""Response models at the HTTP edge."""

from __future__ import annotations

import json

from fastapi.responses import Response
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tasks.events import TaskSnapshot


class TaskLinks(BaseModel):
    result: str
    ws: str


class TaskOut(TaskSnapshot):
    """A task snapshot plus where to read its result and stream its events."""

    links: TaskLinks



def task_links(snap: TaskSnapshot, token: str | None = None) -> dict[str, str]:
    """Where to read and stream the task; owned tasks stream on the token route."""
    ws = f"/ws/{snap.state}/tasks/{token}/{snap.task_id}" if token else f"/ws/{snap.state}/task/ws/{snap.task_id}"
    return {"result": f"/api/{snap.state}/task/result/{snap.task_id}", "ws": ws}


def task_response(snap: TaskSnapshot, status_code: int = 200, token: str | None = None) -> Response:
    """A TaskOut body serialised once, skipping FastAPI's re-validation of a
    snapshot the engine already validated (the start and result hot paths)."""
    body = snap.model_dump_json().encode()
    links = json.dumps(task_links(snap, token), separators=(",", ":")).encode()
    return Response(body[:-1] + b',"links":' + links + b"}", status_code=status_code, media_type="application/json")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    bus: str


class TaskPage(BaseModel):
    """One page of `GET /api/tasks`; pass `next_cursor` back as `cursor` (absent at the end)."""

    data: list[TaskOut]
    next_cursor: str | None = None


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


class TaskDetail(TaskOut):
    """A task with its args, logs, artifacts and intervention messages."""

    args: Any = None
    logs: list[LogOut]
    artifacts: list[ArtifactOut]
    messages: list[MessageOut]


class TaskInfo(BaseModel):
    name: str
    kind: str  # "static" (direct route) or "instance" (client-token route)
    doc: str
    args_schema: dict[str, Any] | None
    timeout: float | None
    max_concurrency: int | None
    retention: float | None
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
