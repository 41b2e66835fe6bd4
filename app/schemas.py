"""Response models at the HTTP edge."""

from __future__ import annotations

import json

from fastapi.responses import Response
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
