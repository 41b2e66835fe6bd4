"""Task rows as the runner inserts them, for tests that drive the store directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tasks.ids import EventClock
from tasks.tables import TaskRecord

CLOCK = EventClock()


def task_row(task_id: str, **values: Any) -> dict[str, Any]:
    """Every column of a new Pending task, `values` overriding any of them."""
    now = datetime.now(UTC)
    record = TaskRecord(
        id=task_id,
        state="jobs",
        task="work",
        status="Pending",
        progress=0.0,
        last_event_id=CLOCK.next(),
        created_at=now,
        updated_at=now,
        attempt=1,
    )
    return {**record.model_dump(), **values}
