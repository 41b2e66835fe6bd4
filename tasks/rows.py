"""A task's row as a plain object: what a running task rewrites (one fixed set of
columns when written, so a batch of updates from many tasks is a single
executemany) and what the store reads back."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from tasks.status import TaskStatus
from tasks.tables import TaskRecord
from tasks.text import clean_text

MUTABLE_COLUMNS = (
    "status",
    "progress",
    "message",
    "result",
    "error",
    "error_code",
    "started_at",
    "finished_at",
    "updated_at",
    "last_event_id",
    "purge_after",
    "attempt",
    "cancel_requested_at",
    "search_text",
    "duration_seconds",
)
MAX_SEARCH_TEXT = 8192


@dataclass(slots=True)
class PlainRecord:
    """A task's row as a plain object, the columns of `TaskRecord`: a running task's,
    and every row the store reads back. The runner sets a dozen columns per task; on
    the mapped table class every set goes through SQLAlchemy's attribute
    instrumentation, which cost more than the rest of a no-op task's run, and its
    constructor cost 40-90 µs a row (a task read on another worker than its own, a
    page of the dashboard's list) against 1 µs here."""

    id: str
    state: str
    task: str
    created_at: datetime
    updated_at: datetime
    worker_id: str | None
    last_event_id: int
    args: Any = None
    status: str = TaskStatus.PENDING.value
    progress: float = 0.0
    message: str | None = None
    result: Any = None
    error: str | None = None
    error_code: str | None = None
    client: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    purge_after: datetime | None = None
    idempotency_key: str | None = None
    args_hash: str | None = None
    attempt: int = 1
    retry_of: str | None = None
    cancel_requested_at: datetime | None = None
    search_text: str | None = None
    duration_seconds: float | None = None

    def row(self) -> dict[str, Any]:
        """Every column, for the insert."""
        return {name: getattr(self, name) for name in COLUMNS}

    def copy(self) -> PlainRecord:
        """A shallow copy, positionally: `dataclasses.replace` re-reads every field's
        declaration, three times slower, once per task end."""
        return PlainRecord(*[getattr(self, name) for name in COLUMNS])


COLUMNS = tuple(field.name for field in fields(PlainRecord))
TaskRow = TaskRecord | PlainRecord


def searchable_json(value: Any) -> str:
    """JSON as the search looks in it: text outside ASCII as itself, not as `\\u`
    escapes, which neither a search for it nor lowercasing could match."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def search_text(record: TaskRow, args_json: str) -> str:
    """What the dashboard's search looks in, lowercased once when written."""
    result = "" if record.result is None else searchable_json(record.result)
    parts = (record.id, args_json, record.message or "", result[:MAX_SEARCH_TEXT], record.error or "")
    return clean_text("\n".join(parts).lower()[: MAX_SEARCH_TEXT * 2])


def row_state(record: TaskRow, args_json: str) -> dict[str, Any]:
    """Every mutable column of the record, its search text refreshed."""
    record.search_text = search_text(record, args_json)
    return {column: getattr(record, column) for column in MUTABLE_COLUMNS}
