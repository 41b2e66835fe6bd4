"""The production topology on one machine: two hosts (servers on two ports, each
with Reflex's 2 x cores + 1 backend workers) sharing a fresh PostgreSQL database
and Redis, started at the same time so their workers race to migrate."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from harness.databases import REDIS_URL, fresh_database_sync
from harness.server import Server


@contextmanager
def two_hosts(
    base: Path, state_modules: str = "tests.support.fast_tasks", env: dict[str, str] | None = None
) -> Iterator[tuple[Server, Server]]:
    with fresh_database_sync("spyglass_hosts") as database:
        shared = {
            "DATABASE_URL": database,
            "REFLEX_REDIS_URL": REDIS_URL,
            "SPYGLASS_REDIS_PREFIX": f"hosts-{secrets.token_hex(4)}",
            **(env or {}),
        }
        a = Server(base / "a", base / "a.log", state_modules=state_modules, env=shared)
        b = Server(base / "b", base / "b.log", state_modules=state_modules, env=shared)
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda server: server.start(), (a, b)))
            yield a, b
        finally:
            a.stop()
            b.stop()
