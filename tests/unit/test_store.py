"""The store's group commit, on a real SQLite file and a fresh PostgreSQL database:
writes queued together commit in one transaction, and when that transaction fails
the writes are retried one by one, so one bad write never fails its neighbours."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from tasks.events import EventType, TaskEvent
from tasks.ids import EventClock, new_task_id
from tasks.sqlite_writer import SqliteWriter
from tasks.store import Store, _apply
from tests.support.rows import task_row

CLOCK = EventClock()


def _log(task_id: str, message: str) -> TaskEvent:
    return TaskEvent(id=CLOCK.next(), task_id=task_id, type=EventType.LOG, timestamp=datetime.now(UTC), message=message)


async def test_writes_queued_together_all_commit(store: Store) -> None:
    ids = [new_task_id() for _ in range(20)]
    await asyncio.gather(*(store.insert_task(task_row(task_id)) for task_id in ids))
    assert all([await store.get_task(task_id) for task_id in ids])


async def test_one_bad_write_fails_alone_and_its_batch_neighbours_commit(store: Store) -> None:
    existing = new_task_id()
    await store.insert_task(task_row(existing))
    before, after = new_task_id(), new_task_id()
    # Queued in one loop turn, so the writer takes them as one batch.
    good_first = store.insert_task(task_row(before))
    duplicate = store.insert_task(task_row(existing))
    good_log = store.append_events([_log(existing, "still written")])
    good_last = store.insert_task(task_row(after))
    results = await asyncio.gather(good_first, duplicate, good_log, good_last, return_exceptions=True)
    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], IntegrityError)
    assert await store.get_task(before) is not None and await store.get_task(after) is not None
    assert [e.message for e in await store.events_after(existing, 0)] == ["still written"]


async def test_progress_ticks_coalesce_into_one_write_of_the_row_as_it_is_at_flush_time(store: Store) -> None:
    task_id = new_task_id()
    await store.insert_task(task_row(task_id))
    reads: list[float] = []
    current = {"progress": 0.0}

    def row_now() -> dict[str, object]:
        reads.append(current["progress"])
        return {"progress": current["progress"], "status": "Processing"}

    for progress in (0.1, 0.2, 0.3):
        current["progress"] = progress
        store.set_progress(task_id, row_now)
    current["progress"] = 0.4  # changed after the last tick, before the flush
    for _ in range(100):
        record = await store.get_task(task_id)
        assert record is not None
        if record.status == "Processing":
            break
        await asyncio.sleep(0.01)
    assert (record.progress, record.status) == (0.4, "Processing")
    assert reads == [0.4]  # read once, at the flush


async def test_a_durable_update_supersedes_a_pending_tick(store: Store) -> None:
    task_id = new_task_id()
    await store.insert_task(task_row(task_id))
    store.set_progress(task_id, lambda: {"progress": 0.5, "status": "Processing"})
    await store.update_task(task_id, {"progress": 1.0, "status": "Completed", "message": "durable"})
    await asyncio.sleep(0.1)  # past the flush window: nothing pending is written over it
    record = await store.get_task(task_id)
    assert record is not None
    assert (record.progress, record.status, record.message) == (1.0, "Completed", "durable")


def test_the_sqlite_writer_stores_exactly_what_sqlalchemy_would(tmp_path: Path) -> None:
    """Its executemany binds values itself (SqliteWriter.execute_many): every column
    must come out of the file as SQLAlchemy's own executemany writes it."""
    at = datetime(2026, 11, 30, 5, 6, 7, 0, tzinfo=UTC)  # whole seconds: still six digits of microseconds
    later = datetime(2026, 11, 30, 5, 6, 8, 123456, tzinfo=UTC)
    naive_early = datetime(999, 1, 2, 3, 4, 5, 6)  # a three-digit year, no time zone
    elsewhere = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    rows = [
        {**task_row("a"), "args": {"name": "Zoë", "n": [1, 2.5, None]}, "created_at": at, "updated_at": later},
        {**task_row("b"), "args": None, "progress": 3, "client": "acme", "created_at": naive_early},
        {**task_row("c"), "created_at": elsewhere, "cancel_requested_at": date(2026, 2, 3)},
    ]
    finished = {
        "status": "Completed",
        "progress": 100,
        "result": {"ok": True, "text": "ünïcode"},
        "started_at": at,
        "finished_at": later,
        "duration_seconds": 1.123456,
        "purge_after": None,
    }
    updates = [("a", finished), ("b", {**finished, "result": None, "finished_at": at})]
    events = [
        {"task_id": "a", "id": 7, "type": "result", "timestamp": later, "data": {"status": "Completed"}},
        {"task_id": "b", "id": 8, "type": "log", "timestamp": at, "data": None},
    ]
    stored = []
    for name, direct in (("sqlalchemy", False), ("writer", True)):
        path = tmp_path / f"{name}.db"
        asyncio.run(_migrated(f"sqlite+aiosqlite:///{path}"))
        writer = SqliteWriter(f"sqlite:///{path}", lambda *_: None)
        with writer._engine.begin() as conn:
            if direct:
                _apply(conn, rows, updates, events, [], writer.execute_many)
            else:
                _apply(conn, rows, updates, events, [])
        writer._engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as db:
            stored.append(
                (
                    db.execute("SELECT * FROM task ORDER BY id").fetchall(),
                    db.execute("SELECT * FROM task_event ORDER BY id").fetchall(),
                )
            )
    assert len(stored[0][0]) == 3 and len(stored[0][1]) == 2
    assert stored[1] == stored[0]


async def _migrated(url: str) -> None:
    store = Store(url)
    await store.start()
    await store.stop()
