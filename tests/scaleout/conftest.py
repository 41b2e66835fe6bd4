"""Real multi-worker deployments: servers started the README's production way
(`scripts/run.sh` with DATABASE_URL and REFLEX_REDIS_URL: 2 x cores + 1 workers each)
on two ports, sharing a fresh PostgreSQL database and Redis."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from harness.databases import REDIS_URL, ping_postgres, ping_redis
from harness.deployment import two_hosts
from harness.server import Server
from tests.conftest import require_service

ADMIN, PASSWORD = "root", "correct horse battery staple"


def _require(name: str, ping: Callable[[], None]) -> None:
    try:
        ping()
    except Exception as exc:
        require_service(name, exc)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Hosts A and B of one deployment, on a fresh database."""
    _require("Redis", ping_redis)
    _require("PostgreSQL", ping_postgres)
    env = {
        "SPYGLASS_ADMIN_USER": ADMIN,
        "SPYGLASS_ADMIN_PASSWORD": PASSWORD,
        "SPYGLASS_HEARTBEAT_SECONDS": "1",
        "SPYGLASS_WORKER_DEAD_AFTER_SECONDS": "10",
    }
    with two_hosts(tmp_path_factory.mktemp("hosts"), env=env) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def sqlite_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One host, several workers (Redis set), the default SQLite store."""
    _require("Redis", ping_redis)
    base = tmp_path_factory.mktemp("sqlite-host")
    env = {"REFLEX_REDIS_URL": REDIS_URL, "SPYGLASS_REDIS_PREFIX": f"sqlite-{secrets.token_hex(4)}"}
    server = Server(base / "data", base / "server.log", env=env).start()
    try:
        yield server
    finally:
        server.stop()
