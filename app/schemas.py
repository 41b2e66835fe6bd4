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



def task_links(snap: TaskSnapshot) -> dict[str, str]:
    return {
        "result": f"/api/{snap.state}/task/result/{snap.task_id}",
        "ws": f"/ws/{snap.state}/task/ws/{snap.task_id}",
    }


def task_response(snap: TaskSnapshot, status_code: int = 200) -> Response:
    """A TaskOut body serialised once, skipping FastAPI's re-validation of a
    snapshot the engine already validated (the start and result hot paths)."""
    body = snap.model_dump_json().encode()
    links = json.dumps(task_links(snap), separators=(",", ":")).encode()
    return Response(body[:-1] + b',"links":' + links + b"}", status_code=status_code, media_type="application/json")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    bus: str
