"""Stream resume, as a property: from any id a client received, the rest of the
stream loses nothing durable and repeats nothing; ids strictly increase across
snapshot and replay; every stream of an ended task carries its terminal event.
Against the real stores (SQLite file, fresh PostgreSQL database)."""

from __future__ import annotations

import asyncio
import contextlib

from tasks.access import ANONYMOUS
from tasks.engine import Engine
from tasks.events import EventType, TaskEvent
from tasks.status import LogLevel
from tasks.streams import task_events
from tests.support.commits import hold_commits


async def collect(engine: Engine, task_id: str, after: int | None, limit: int | None = None) -> list[TaskEvent]:
    """A client reading the stream; it drops after `limit` messages."""
    received: list[TaskEvent] = []
    stream = task_events(engine, task_id, after=after, access=ANONYMOUS, keepalive=0.2)
    try:
        async for event in stream:
            if event is None:
                continue
            received.append(event)
            if limit is not None and len(received) >= limit:
                break
    finally:
        await stream.aclose()
    return received


async def start(engine: Engine, task: str, body: object = None) -> str:
    spec, args = engine.parse_args("fast_tasks", task, body)
    return (await engine.start_task(spec, args)).task_id


def durable(events: list[TaskEvent]) -> list[int]:
    return [e.id for e in events if e.is_durable]


async def test_resuming_from_every_id_of_a_finished_stream_continues_it_exactly(engine: Engine) -> None:
    task_id = await start(engine, "chatty", {"lines": 8})
    await engine.wait(task_id, 10)
    full = await collect(engine, task_id, after=0)
    assert full[0].type == EventType.SNAPSHOT and full[-1].type == EventType.RESULT
    ids = [e.id for e in full]
    assert ids == sorted(set(ids))
    for position, message in enumerate(full):
        resumed = await collect(engine, task_id, after=message.id)
        assert resumed[0].type == EventType.SNAPSHOT and resumed[0].id == message.id
        assert [e.id for e in resumed[1:]] == ids[position + 1 :] or (position == len(full) - 1 and resumed[1:] == [])


async def test_a_client_that_drops_after_every_two_events_gets_each_durable_event_once(engine: Engine) -> None:
    task_id = await start(engine, "chatty", {"lines": 20, "interval": 0.02})
    received: list[TaskEvent] = []
    after: int | None = 0
    for _ in range(200):
        batch = await collect(engine, task_id, after=after, limit=2)
        ids = [e.id for e in batch]
        assert ids == sorted(set(ids)), ids  # strictly increasing within a stream, snapshot included
        received.extend(e for e in batch if e.is_durable)
        after = batch[-1].id
        if any(e.is_terminal for e in batch):
            break
    stored = await engine.store.events_after(task_id, 0)
    assert [e.id for e in received] == [e.id for e in stored]  # nothing lost, nothing twice
    assert received[-1].type == EventType.RESULT


async def test_a_stream_opened_as_the_task_ends_carries_its_terminal_event(engine: Engine) -> None:
    for after in (0, None) * 15:
        task_id = await start(engine, "noop")
        await asyncio.sleep(0)  # the task is ending right now
        events = await asyncio.wait_for(collect(engine, task_id, after=after), 10)
        assert events[0].type == EventType.SNAPSHOT
        assert events[-1].type == EventType.RESULT, [e.type for e in events]
        assert [e.id for e in events] == sorted({e.id for e in events})


async def test_a_resume_from_the_terminal_event_sends_the_final_snapshot_and_closes(engine: Engine) -> None:
    task_id = await start(engine, "chatty", {"lines": 2})
    await engine.wait(task_id, 10)
    end = (await engine.store.events_after(task_id, 0))[-1]
    events = await collect(engine, task_id, after=end.id)
    assert [e.type for e in events] == [EventType.SNAPSHOT]
    assert events[0].snapshot is not None and events[0].snapshot.status == "Completed"


async def test_a_slow_watcher_resyncs_from_the_store_without_losing_a_log(engine: Engine) -> None:
    task_id = await start(engine, "chatty", {"lines": 30, "interval": 0.01})
    stream = task_events(engine, task_id, after=0, access=ANONYMOUS, keepalive=0.2)
    received: list[TaskEvent] = []
    async for event in stream:
        if event is None:
            continue
        received.append(event)
        if len(received) == 1:
            await asyncio.sleep(0.1)
            # the transport dropped events meanwhile (what a lost Redis connection does)
            for subscription in list(engine.bus.local.subscribers.get(f"task:{task_id}", ())):  # type: ignore[attr-defined]
                subscription.mark_overflowed()
        if event.is_terminal:
            break
    await stream.aclose()
    stored = await engine.store.events_after(task_id, 0)
    assert durable(received) == [e.id for e in stored]
    ids = [e.id for e in received]
    assert ids == sorted(set(ids))


async def test_a_watcher_resuming_while_a_log_is_committed_ends_on_the_current_progress(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "quiet", {"steps": 100, "interval": 0.1})
    snap = await engine.start_task(spec, args)
    await asyncio.sleep(0.2)
    live = engine.runner.live(snap.task_id)
    assert live is not None
    release = hold_commits(engine)
    first_stream = task_events(engine, snap.task_id, access=ANONYMOUS)
    first = await anext(first_stream)
    assert first is not None
    await engine.runner.log(live, "a log line", LogLevel.INFO)  # durable: being committed
    await engine.runner.update(live, progress=50)  # heard, queued behind the log
    await first_stream.aclose()  # the watcher's connection drops
    await engine.runner.update(live, progress=60)  # while nobody watches
    resumed = task_events(engine, snap.task_id, after=first.id, access=ANONYMOUS)
    seen = [await anext(resumed), await anext(resumed)]
    release.set()
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append(await asyncio.wait_for(anext(resumed), 1.0))
    await resumed.aclose()
    assert [e.type for e in seen if e is not None and e.type == EventType.LOG] == [EventType.LOG]
    shown = [e.snapshot.progress for e in seen if e is not None and e.snapshot is not None]
    assert shown[-1] == 60
    await engine.cancel(snap.task_id)
