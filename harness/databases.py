"""Throwaway PostgreSQL databases: each test, deployment or benchmark run gets a
fresh one, dropped afterwards, so nothing leaks from one run into the next."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

POSTGRES_ADMIN_URL = os.environ.get("SPYGLASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SPYGLASS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def create_database(prefix: str) -> str:
    """The URL of a new, empty database; raises whatever asyncpg raises when
    PostgreSQL is not reachable."""
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        name = f"{prefix}_{secrets.token_hex(6)}"
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_database(prefix: str = "spyglass_test") -> AsyncIterator[str]:
    url = await create_database(prefix)
    try:
        yield url
    finally:
        await drop_database(url)


@contextmanager
def fresh_database_sync(prefix: str) -> Iterator[str]:
    """fresh_database for callers outside an event loop (module fixtures, the bench)."""
    url = asyncio.run(create_database(prefix))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


def ping_postgres() -> None:
    """Raises when the test PostgreSQL is not reachable."""
    import asyncpg

    async def ping() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await connection.close()

    asyncio.run(ping())


def ping_redis() -> None:
    """Raises when the test Redis is not reachable."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()
