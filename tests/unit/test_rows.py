"""A running task's row is a plain object (PlainRecord), written as the table's row:
it must carry exactly the table's columns, and read the same as a stored row."""

from __future__ import annotations

from datetime import UTC, datetime

from tasks.events import TaskEvent, TaskSnapshot
from tasks.rows import COLUMNS, PlainRecord, row_state
from tasks.store import TASK
from tasks.tables import TaskRecord

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _live() -> PlainRecord:
    return PlainRecord(
        id="t1", state="s", task="work", created_at=NOW, updated_at=NOW, worker_id="w1", last_event_id=7, client="acme"
    )


def test_a_live_record_has_exactly_the_task_tables_columns() -> None:
    assert set(COLUMNS) == {column.name for column in TASK.columns}
    assert set(_live().row()) == set(TASK.columns.keys())


def test_a_live_record_and_the_stored_row_give_the_same_snapshot() -> None:
    live = _live()
    live.status, live.progress, live.message = "Processing", 40.0, "half way"
    stored = TaskRecord(**live.row())
    assert TaskSnapshot.of(live) == TaskSnapshot.of(stored)
    assert (
        TaskSnapshot.of(live).model_dump()
        == TaskSnapshot.model_validate(TaskSnapshot.of(stored).model_dump()).model_dump()
    )


def test_a_copy_of_a_live_record_has_every_column_and_changes_alone() -> None:
    live = _live()
    live.status, live.progress, live.args = "Processing", 40.0, {"n": 1}
    final = live.copy()
    assert final == live and final is not live
    final.status, final.progress = "Completed", 100.0
    assert (live.status, live.progress) == ("Processing", 40.0)
    assert final.row() == {**live.row(), "status": "Completed", "progress": 100.0}


def test_row_state_refreshes_the_search_text_it_writes() -> None:
    live = _live()
    live.message = "Deploying EU-West"
    state = row_state(live, '{"region":"eu"}')
    assert state["search_text"] == live.search_text
    assert "deploying eu-west" in state["search_text"] and '{"region":"eu"}' in state["search_text"]


def test_an_event_made_from_trusted_values_serialises_like_a_validated_one() -> None:
    snap = TaskSnapshot.of(_live())
    made = TaskEvent.made(id=8, task_id="t1", type="status", timestamp=NOW, snapshot=snap)
    validated = TaskEvent(id=8, task_id="t1", type="status", timestamp=NOW, snapshot=snap)
    assert made.wire_text() == validated.wire_text()
    assert made.stored_data() == validated.stored_data()
    assert made.model_copy(update={"message": "x"}).wire()["message"] == "x"
