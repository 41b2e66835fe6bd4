"""The row a running task rewrites: one fixed set of columns, so a batch of
updates from many tasks is a single executemany."""

from __future__ import annotations

import json
from typing import Any

from tasks.tables import TaskRecord

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


def search_text(record: TaskRecord, args_json: str) -> str:
    """What the dashboard's search looks in, lowercased once when written."""
    result = "" if record.result is None else json.dumps(record.result, separators=(",", ":"))
    parts = (record.id, args_json, record.message or "", result[:MAX_SEARCH_TEXT], record.error or "")
    return "\n".join(parts).lower()[: MAX_SEARCH_TEXT * 2]


def row_state(record: TaskRecord, args_json: str) -> dict[str, Any]:
    """Every mutable column of the record, its search text refreshed."""
    record.search_text = search_text(record, args_json)
    return {column: getattr(record, column) for column in MUTABLE_COLUMNS}
