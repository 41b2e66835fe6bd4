"""The query parameters that pick tasks (`GET /api/tasks`, `/api/tasks/stats`), as
FastAPI query-parameter models: declared once, validated and documented by FastAPI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.requests import statuses, timestamp
from tasks.access import Access
from tasks.engine import Engine
from tasks.errors import InvalidRequest
from tasks.queries import DIRECT, TaskQuery


class TaskFilters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str | None = Field(default=None, max_length=128)
    task: str | None = Field(default=None, max_length=128)
    status: list[str] = Field(default=[], description="Statuses, comma-separated or repeated, any case.")
    since: str | None = Field(
        default=None, description="RFC 3339: created at or after it.", json_schema_extra={"format": "date-time"}
    )
    until: str | None = Field(
        default=None, description="RFC 3339: created before it.", json_schema_extra={"format": "date-time"}
    )
    search: str | None = Field(
        default=None, max_length=200, description="Text in the id, arguments, message, result or error."
    )
    client: str | None = Field(
        default=None, max_length=64, description=f"Admins: one client's tasks, or `{DIRECT}` for tokenless ones."
    )

    def query(self, engine: Engine, access: Access, **page: object) -> TaskQuery:
        """The store query for these filters, narrowed to what `access` may see."""
        if self.client is not None and not access.admin:
            raise InvalidRequest("only an admin filters by client", hint="a client token lists its own tasks")
        return engine.scoped_query(
            access,
            state=self.state,
            task=self.task,
            statuses=tuple(s.value for s in statuses(self.status)),
            since=timestamp(self.since, "since"),
            until=timestamp(self.until, "until"),
            search=self.search or None,
            client=self.client,
            **page,
        )


class TaskListParams(TaskFilters):
    limit: int = Field(default=20, ge=1, le=100)
    order: Literal["desc", "asc"] = "desc"
    cursor: str | None = Field(default=None, max_length=512)
    include: list[Literal["logs", "total"]] = Field(
        default=[], description="`logs`: each task's newest logs inline; `total`: how many match in all."
    )
