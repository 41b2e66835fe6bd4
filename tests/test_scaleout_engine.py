"""Two workers in one test, as two engines sharing a fresh PostgreSQL database and
a real Redis (each with its own bus, limits and runner): what crosses workers.
The same behaviours against real multi-worker servers on two ports are in
tests/scaleout/."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tasks.access import ANONYMOUS
from tasks.engine import Engine, get_engine
from tasks.errors import TooManyTasks
from tasks.events import EventType, TaskEvent, utcnow
from tasks.settings import Settings
from tasks.streams import task_events

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def workers(postgres_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Engine, Engine]]:
    """Workers A and B of one deployment, started together (migrations run once)."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=postgres_url,
        redis_url=redis_url,
        redis_prefix=f"test-{secrets.token_hex(4)}",
        heartbeat_seconds=0.2,
        worker_dead_after_seconds=1.5,
        max_active_tasks=5,
        cancel_grace_seconds=2,
    )
    a = Engine(settings, registry=get_engine().registry)
    b = Engine(settings, registry=get_engine().registry)
    await asyncio.gather(a.start(), b.start())
    try:
        yield a, b
    finally:
        for engine in (a, b):
            if engine.started:
                await engine.stop()


async def start(engine: Engine, task: str, body: object = None, client: str | None = None) -> str:
    spec, args = engine.parse_args("fast_tasks", task, body)
    return (await engine.start_task(spec, args, client)).task_id


async def collect(engine: Engine, task_id: str, after: int | None = None) -> list[TaskEvent]:
    received = []
    async for event in task_events(engine, task_id, after=after, access=ANONYMOUS, keepalive=0.2):
        if event is not None:
            received.append(event)
            if event.is_terminal:
                break
    return received


async def test_a_task_on_one_worker_streams_live_to_a_watcher_on_the_other(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    task_id = await start(a, "steps", {"steps": 10, "interval": 0.05})
    events = await asyncio.wait_for(collect(b, task_id), 10)
    progress = [e.snapshot.progress for e in events if e.type == EventType.STATUS and e.snapshot]
    assert len(progress) >= 5 and progress[-1] == 100
    assert events[-1].type == EventType.RESULT


async def test_resuming_on_the_other_worker_from_any_id_loses_nothing(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    task_id = await start(a, "chatty", {"lines": 15, "interval": 0.02})
    full = await asyncio.wait_for(collect(b, task_id, after=0), 10)
    stored = await b.store.events_after(task_id, 0)
    assert [e.id for e in full if e.is_durable] == [e.id for e in stored]
    for message in full[::3]:
        resumed = await collect(b, task_id, after=message.id)
        assert resumed[0].id == message.id
        # The task has ended: a resume replays what is durable. The live stream may
        # also have carried a progress tick (if it subscribed before the task's
        # first one), and ticks are never stored, so they are not replayed.
        assert all(e.is_durable for e in resumed[1:])
        assert [e.id for e in resumed[1:]] == [e.id for e in full if e.id > message.id and e.is_durable]


async def test_cancel_and_messages_sent_to_the_other_worker_reach_the_task(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    forever = await start(a, "forever")
    interactive = await start(a, "interactive")
    await asyncio.sleep(0.2)
    cancelled = await b.cancel(forever)
    assert cancelled.status == "Cancelled"
    await b.send_message(interactive, {"n": 1})
    await b.send_message(interactive, {"action": "stop"})
    final = await b.wait(interactive, 10)
    assert final.status == "Completed" and final.result == [{"n": 1}]


async def test_concurrency_limits_count_every_worker(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    accepted, refused = [], 0
    for engine in (a, b, a, b):
        try:
            accepted.append(await start(engine, "single"))
        except TooManyTasks:
            refused += 1
    assert (len(accepted), refused) == (1, 3)
    await a.wait(accepted[0], 10)
    assert await start(b, "single")


async def test_the_global_active_cap_counts_every_worker(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    started = [await start(engine, "forever") for engine in (a, b, a, b, a)]
    with pytest.raises(TooManyTasks):
        await start(b, "forever")
    await a.cancel(started[0])
    assert await start(b, "forever")


async def test_a_revocation_on_one_worker_is_heard_by_the_other(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    await a.auth.create("alice")
    before = b.token_generation
    await a.revoke_tokens("alice")
    for _ in range(50):
        if b.token_generation > before:
            break
        await asyncio.sleep(0.02)
    assert b.token_generation > before


async def test_a_watcher_whose_redis_connection_drops_resyncs_without_losing_a_log(
    workers: tuple[Engine, Engine], redis_url: str
) -> None:
    a, b = workers
    task_id = await start(a, "chatty", {"lines": 40, "interval": 0.02})
    received: list[TaskEvent] = []
    killed = False
    async for event in task_events(b, task_id, after=0, access=ANONYMOUS, keepalive=0.2):
        if event is None:
            continue
        received.append(event)
        if len(received) == 5 and not killed:
            killed = True
            admin = Redis.from_url(redis_url)
            for client in await admin.client_list(_type="pubsub"):
                if client.get("name", "").endswith(b.worker_id):
                    await admin.client_kill_filter(_id=client["id"])
            await admin.aclose()
        if event.is_terminal:
            break
    assert killed
    stored = await a.store.events_after(task_id, 0)
    assert [e.id for e in received if e.is_durable] == [e.id for e in stored]
    ids = [e.id for e in received]
    assert ids == sorted(set(ids))


async def test_a_dead_workers_tasks_are_interrupted_by_the_survivor(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    task_id = await start(a, "forever")
    await asyncio.sleep(0.3)
    # A stops heartbeating and publishing, as if its process had been killed.
    assert a._maintenance is not None
    a._maintenance.cancel()
    for live in a.runner.running():
        live.ended = True  # its coroutine stops reporting
    final = await asyncio.wait_for(b.wait(task_id, 10), 15)
    assert final.status == "Interrupted" and final.error_code == "interrupted"
    statuses = {w.id: w.status for w in await b.workers.overview()}
    assert statuses[a.worker_id] == "dead" and statuses[b.worker_id] == "alive"


async def test_a_long_poll_on_a_worker_declared_dead_returns_the_end_a_survivor_records(
    workers: tuple[Engine, Engine],
) -> None:
    a, b = workers
    task_id = await start(a, "forever")
    poll = asyncio.create_task(a.wait(task_id, 8))
    await asyncio.sleep(0.3)
    await b.store.mark_workers_stopped([a.runner.worker_id], "died", utcnow())  # B declares A dead
    assert await b.workers.interrupt_orphans() == 1
    final = await asyncio.wait_for(poll, 1)
    assert (final.status, final.error_code) == ("Interrupted", "interrupted")
