"""The in-memory bus and its overflow rule: a subscriber that falls too far behind
loses its queue and is told so at once, so its stream resyncs from the store
instead of silently skipping events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tasks.bus import InMemoryBus, Subscription, task_topic
from tasks.events import EventType, TaskEvent


async def _reading(sub: Subscription, timeout: float | None) -> asyncio.Task[TaskEvent | None]:
    """A reader already waiting on `sub` (it has had a loop turn to start)."""
    reader = asyncio.create_task(sub.get(timeout=timeout))
    await asyncio.sleep(0)
    return reader


def _event(event_id: int, task_id: str = "t1") -> TaskEvent:
    return TaskEvent(id=event_id, task_id=task_id, type=EventType.LOG, timestamp=datetime.now(UTC), message="x")


async def test_events_arrive_in_publish_order_until_the_queue_is_full() -> None:
    sub = Subscription("task:t1", max_queue=3)
    for i in range(1, 4):
        sub.deliver(_event(i))
    assert not sub.overflowed
    received = [await sub.get(0.1) for _ in range(3)]
    assert [e.id for e in received if e is not None] == [1, 2, 3]
    assert await sub.get(0.01) is None  # nothing more: a timeout, not an overflow
    assert not sub.overflowed


async def test_one_event_too_many_empties_the_queue_and_marks_the_subscriber_overflowed() -> None:
    sub = Subscription("task:t1", max_queue=3)
    for i in range(1, 5):
        sub.deliver(_event(i))
    assert sub.overflowed
    assert sub.drain() == []  # the queued events are dropped: a partial queue would hide a gap
    assert await asyncio.wait_for(sub.get(timeout=30), 1) is None  # told at once, not after the timeout


async def test_an_overflowed_subscriber_ignores_events_until_it_has_resynced() -> None:
    sub = Subscription("task:t1", max_queue=2)
    for i in range(1, 4):
        sub.deliver(_event(i))
    sub.deliver(_event(4))
    assert sub.drain() == []
    sub.reset_overflow()  # the reader re-read the store up to now
    sub.deliver(_event(5))
    assert [e.id for e in sub.drain()] == [5]


async def test_a_waiting_reader_wakes_when_its_subscription_overflows() -> None:
    sub = Subscription("task:t1", max_queue=1)
    reader = await _reading(sub, 30)
    sub.mark_overflowed()
    assert await asyncio.wait_for(reader, 1) is None


async def test_a_waiting_reader_wakes_for_an_event_at_once_and_times_out_without_one() -> None:
    sub = Subscription("task:t1", max_queue=10)
    reader = await _reading(sub, 30)
    sub.deliver(_event(1))
    woken = await asyncio.wait_for(reader, 1)
    assert woken is not None and woken.id == 1
    started = asyncio.get_running_loop().time()
    assert await sub.get(timeout=0.05) is None
    assert asyncio.get_running_loop().time() - started >= 0.04
    sub.deliver(_event(2))  # an event after a timeout is not lost
    later = await sub.get(timeout=1)
    assert later is not None and later.id == 2


async def test_a_read_without_timeout_waits_past_an_earlier_reads_deadline() -> None:
    sub = Subscription("task:t1", max_queue=10)
    early = await _reading(sub, 0.05)
    sub.deliver(_event(1))
    assert await early is not None
    patient = await _reading(sub, None)
    await asyncio.sleep(0.1)  # the earlier read's deadline has passed
    assert not patient.done()
    sub.deliver(_event(2))
    received = await asyncio.wait_for(patient, 1)
    assert received is not None and received.id == 2


async def test_a_second_reader_at_once_is_refused() -> None:
    sub = Subscription("task:t1", max_queue=10)
    first = await _reading(sub, 1)
    with pytest.raises(RuntimeError, match="one reader"):
        await sub.get(timeout=1)
    sub.deliver(_event(1))
    received = await asyncio.wait_for(first, 1)
    assert received is not None and received.id == 1


async def test_a_cancelled_reader_leaves_the_subscription_working() -> None:
    sub = Subscription("task:t1", max_queue=10)
    reader = await _reading(sub, 30)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    sub.deliver(_event(1))
    received = await sub.get(timeout=1)
    assert received is not None and received.id == 1


async def test_the_in_memory_bus_delivers_to_every_subscriber_of_each_topic_and_only_those() -> None:
    bus = InMemoryBus(max_queue=10)
    await bus.start()
    try:
        async with bus.subscribe(task_topic("t1")) as one, bus.subscribe(task_topic("t1")) as two:
            async with bus.subscribe(task_topic("t2")) as other:
                bus.publish(_event(1), [task_topic("t1")])
                bus.publish(_event(2, "t2"), [task_topic("t2")])
                assert [e.id for e in one.drain()] == [1]
                assert [e.id for e in two.drain()] == [1]
                assert [e.id for e in other.drain()] == [2]
        bus.publish(_event(3), [task_topic("t1")])  # nobody listens any more: dropped, no error
    finally:
        await bus.stop()


async def test_a_slow_subscriber_overflows_without_holding_back_a_fast_one() -> None:
    bus = InMemoryBus(max_queue=5)
    await bus.start()
    try:
        async with bus.subscribe(task_topic("t1")) as slow, bus.subscribe(task_topic("t1")) as fast:
            for i in range(1, 11):
                bus.publish(_event(i), [task_topic("t1")])
                assert [e.id for e in fast.drain()] == [i]
            assert slow.overflowed and not fast.overflowed
    finally:
        await bus.stop()
