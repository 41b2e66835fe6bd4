"""What a user sees when PostgreSQL or Redis goes away, and that nothing durable
is lost when they come back: real outages (a TCP proxy in front of PostgreSQL that
cuts every connection, a private Redis server that is stopped and started)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tasks.bus import task_topic
from tasks.engine import Engine, get_engine
from tasks.errors import ServiceUnavailable
from tasks.settings import Settings
from tasks.store import IDLE_PING_SECONDS
from tests.support.outages import PrivateRedis, TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def proxied_postgres(postgres_url: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    host_port = postgres_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    try:
        yield postgres_url.replace(host_port, f"127.0.0.1:{proxy.port}"), proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def proxied_engine(
    proxied_postgres: tuple[str, TcpProxy], tmp_path: Path
) -> AsyncIterator[tuple[Engine, TcpProxy]]:
    """An engine on PostgreSQL through the proxy; the proxy is restored before it stops."""
    url, proxy = proxied_postgres
    engine = Engine(Settings(data_dir=tmp_path, database_url=url), registry=get_engine().registry)
    await engine.start()
    try:
        yield engine, proxy
    finally:
        proxy.restore()
        await engine.stop()


async def _finished_task(engine: Engine) -> str:
    spec, args = engine.parse_args("fast_tasks", "noop", None)
    task_id = (await engine.start_task(spec, args)).task_id
    assert (await engine.wait(task_id, 10)).status == "Completed"
    return task_id


@pytest.fixture
def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        yield redis
    finally:
        redis.stop()


async def test_a_database_outage_delays_writes_but_loses_none(proxied_engine: tuple[Engine, TcpProxy]) -> None:
    engine, proxy = proxied_engine
    spec, args = engine.parse_args("fast_tasks", "chatty", {"lines": 60, "interval": 0.02})
    task_id = (await engine.start_task(spec, args)).task_id
    await asyncio.sleep(0.3)
    proxy.cut()  # the database goes away mid-task: connections drop, new ones are refused
    await asyncio.sleep(1.5)
    proxy.restore()
    final = await engine.wait(task_id, 20)
    assert final.status == "Completed"
    logs = [e for e in await engine.store.events_after(task_id, 0) if e.type == "log"]
    assert [e.message for e in logs] == [f"line {i}" for i in range(60)]


async def test_an_artifact_stored_during_a_database_outage_is_stored_once_it_returns(
    proxied_engine: tuple[Engine, TcpProxy],
) -> None:
    engine, proxy = proxied_engine
    task_id = await _finished_task(engine)
    proxy.cut()
    stored = asyncio.create_task(engine.store.put_artifact(task_id, "report.txt", "report", "text/plain", b"kept"))
    await asyncio.sleep(1.0)
    assert not stored.done()  # waiting for the database, not failed
    proxy.restore()
    await asyncio.wait_for(stored, 10)
    artifact = await engine.store.get_artifact(task_id, "report.txt")
    assert artifact is not None and artifact.data == b"kept"


async def test_pooled_connections_that_died_are_replaced_before_use_just_used_or_idle(
    proxied_engine: tuple[Engine, TcpProxy],
) -> None:
    """The pool no longer pings at every checkout: a connection the driver saw close
    is replaced at once, and one idle for a while, which may have died unseen (its
    peer gone, its socket still open), is pinged and replaced."""
    engine, proxy = proxied_engine
    task_id = await _finished_task(engine)
    seen, unseen = (proxy.cut, 0.05), (proxy.drop_upstream, IDLE_PING_SECONDS + 0.2)
    for drop, pause in (seen, unseen):  # the driver sees a close once the loop has run
        await asyncio.gather(*(engine.store.get_task(task_id) for _ in range(4)))  # several pooled connections
        drop()  # every pooled connection is dropped; the database stays up
        proxy.restore()
        await asyncio.sleep(pause)
        await engine.store.ping()
        await engine.store.put_artifact(task_id, f"after-{drop.__name__}", "notes", "text/plain", b"kept")
        assert (await engine.auth.create("acme")).token
        assert await engine.admins.users() == []
        for _ in range(4):
            record = await engine.store.get_task(task_id)
            assert record is not None and record.status == "Completed"


async def test_redis_away_is_a_clear_503_and_streams_resync_when_it_returns(
    postgres_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=postgres_url, redis_url=private_redis.url, redis_prefix=secrets.token_hex(4)
    )
    engine = Engine(settings, registry=get_engine().registry)
    await engine.start()
    try:
        spec, args = engine.parse_args("fast_tasks", "chatty", {"lines": 30, "interval": 0.05})
        task_id = (await engine.start_task(spec, args)).task_id
        private_redis.stop()
        with pytest.raises(Exception, match=r"."):
            await engine.bus.ping()  # /ready: bus unavailable
        with pytest.raises(ServiceUnavailable):  # a start answers 503 service_unavailable
            await engine.start_task(spec, args)
        private_redis.start()
        final = await engine.wait(task_id, 20)
        assert final.status == "Completed"  # the task ran on through the outage
        logs = [e for e in await engine.store.events_after(task_id, 0) if e.type == "log"]
        assert len(logs) == 30
        await engine.bus.ping()
    finally:
        await engine.stop()


async def test_a_stalled_redis_does_not_hold_back_the_end_of_a_task_on_its_own_worker(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """The end is published after its slot is released, and the release waits on
    Redis: a stall of seconds may delay this worker's watchers by a quarter of a
    second at most, and never its own reads."""
    settings = Settings(data_dir=tmp_path, redis_url=private_redis.url, redis_prefix=secrets.token_hex(4))
    engine = Engine(settings, registry=get_engine().registry)
    await engine.start()
    admin = Redis.from_url(private_redis.url)
    try:
        spec, args = engine.parse_args("fast_tasks", "quiet", {"steps": 1, "interval": 0.5})
        task_id = (await engine.start_task(spec, args)).task_id
        async with engine.bus.subscribe(task_topic(task_id)) as sub:
            await asyncio.sleep(0.3)
            await admin.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
            stalled = time.monotonic()
            await asyncio.sleep(0.4)  # the task ended at 0.5 s, and its end is committed
            record = await engine.store.get_task(task_id)
            assert record is not None and record.status == "Completed"
            assert (await engine.snapshot(task_id)).status == "Completed"
            while (event := await sub.get(timeout=5)) is not None and not event.is_terminal:
                pass
            assert event is not None and event.snapshot is not None and event.snapshot.status == "Completed"
            assert time.monotonic() - stalled < 1.5  # not the 3 s of the stall
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()
        await engine.stop()
