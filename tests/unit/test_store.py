"""The store's group commit, on a real SQLite file and a fresh PostgreSQL database:
writes queued together commit in one transaction, and when that transaction fails
the writes are retried one by one, so one bad write never fails its neighbours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from tasks.events import EventType, TaskEvent
from tasks.ids import EventClock, new_task_id
from tasks.settings import Settings
from tasks.store import Store
from tasks.tables import TaskRecord

CLOCK = EventClock()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = Store(settings.async_database_url, progress_flush_seconds=0.05)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


def _row(task_id: str) -> dict[str, object]:
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
    return record.model_dump()


def _log(task_id: str, message: str) -> TaskEvent:
    return TaskEvent(id=CLOCK.next(), task_id=task_id, type=EventType.LOG, timestamp=datetime.now(UTC), message=message)


async def test_writes_queued_together_all_commit(store: Store) -> None:
    ids = [new_task_id() for _ in range(20)]
    await asyncio.gather(*(store.insert_task(_row(task_id)) for task_id in ids))
    assert all([await store.get_task(task_id) for task_id in ids])


async def test_one_bad_write_fails_alone_and_its_batch_neighbours_commit(store: Store) -> None:
    existing = new_task_id()
    await store.insert_task(_row(existing))
    before, after = new_task_id(), new_task_id()
    # Queued in one loop turn, so the writer takes them as one batch.
    good_first = store.insert_task(_row(before))
    duplicate = store.insert_task(_row(existing))
    good_log = store.append_events([_log(existing, "still written")])
    good_last = store.insert_task(_row(after))
    results = await asyncio.gather(good_first, duplicate, good_log, good_last, return_exceptions=True)
    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], IntegrityError)
    assert await store.get_task(before) is not None and await store.get_task(after) is not None
    assert [e.message for e in await store.events_after(existing, 0)] == ["still written"]


async def test_progress_ticks_coalesce_into_one_write_of_the_row_as_it_is_at_flush_time(store: Store) -> None:
    task_id = new_task_id()
    await store.insert_task(_row(task_id))
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
    await store.insert_task(_row(task_id))
    store.set_progress(task_id, lambda: {"progress": 0.5, "status": "Processing"})
    await store.update_task(task_id, {"progress": 1.0, "status": "Completed", "message": "durable"})
    await asyncio.sleep(0.1)  # past the flush window: nothing pending is written over it
    record = await store.get_task(task_id)
    assert record is not None
    assert (record.progress, record.status, record.message) == (1.0, "Completed", "durable")
