"""Response models at the HTTP edge."""

from __future__ import annotations

from pydantic import BaseModel

from tasks.events import TaskSnapshot


class TaskLinks(BaseModel):
    result: str
    ws: str


class TaskOut(TaskSnapshot):
    """A task snapshot plus where to read its result and stream its events."""

    links: TaskLinks

    @classmethod
    def from_snapshot(cls, snap: TaskSnapshot) -> TaskOut:
        links = TaskLinks(
            result=f"/api/{snap.state}/task/result/{snap.task_id}",
            ws=f"/ws/{snap.state}/task/ws/{snap.task_id}",
        )
        return cls(**snap.model_dump(), links=links)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    bus: str
