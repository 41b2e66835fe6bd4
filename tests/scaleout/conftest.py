"""Real multi-worker deployments: servers started the README's production way
(`scripts/run.sh` with DATABASE_URL and REFLEX_REDIS_URL: 2 x cores + 1 workers each)
on two ports, sharing a fresh PostgreSQL database and Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, require_service
from tests.support.server import Server

ADMIN, PASSWORD = "root", "correct horse battery staple"


def _create_database() -> str:
    import asyncpg

    async def create() -> str:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        name = f"spyglass_scale_{secrets.token_hex(6)}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    return asyncio.run(create())


def _drop_database(url: str) -> None:
    import asyncpg

    async def drop() -> None:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()

    asyncio.run(drop())


def _check_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        require_service("Redis", exc)
    finally:
        client.close()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Hosts A and B of one deployment, started at the same time on a fresh database
    (so their ten workers race to migrate it)."""
    _check_redis()
    try:
        database = _create_database()
    except Exception as exc:
        require_service("PostgreSQL", exc)
    base = tmp_path_factory.mktemp("hosts")
    env = {
        "DATABASE_URL": database,
        "REFLEX_REDIS_URL": REDIS_URL,
        "SPYGLASS_REDIS_PREFIX": f"scale-{secrets.token_hex(4)}",
        "SPYGLASS_ADMIN_USER": ADMIN,
        "SPYGLASS_ADMIN_PASSWORD": PASSWORD,
        "SPYGLASS_HEARTBEAT_SECONDS": "1",
        "SPYGLASS_WORKER_DEAD_AFTER_SECONDS": "10",
    }
    a = Server(base / "a", base / "a.log", env=env)
    b = Server(base / "b", base / "b.log", env=env)
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.start(), (a, b)))
        yield a, b
    finally:
        a.stop()
        b.stop()
        _drop_database(database)


@pytest.fixture(scope="module")
def sqlite_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One host, several workers (Redis set), the default SQLite store."""
    _check_redis()
    base = tmp_path_factory.mktemp("sqlite-host")
    env = {"REFLEX_REDIS_URL": REDIS_URL, "SPYGLASS_REDIS_PREFIX": f"sqlite-{secrets.token_hex(4)}"}
    server = Server(base / "data", base / "server.log", env=env).start()
    try:
        yield server
    finally:
        server.stop()


def worker_pids(server: Server) -> list[int]:
    """The backend workers of a host: the processes of its group but the supervisor."""
    assert server.process is not None
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == server.process.pid and int(stat.parent.name) != server.process.pid:
            pids.append(int(stat.parent.name))
    return pids
