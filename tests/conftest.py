"""Shared fixtures: the in-process ASGI app, fresh SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ["SPYGLASS_STATE_MODULES"] = "tests.support.fast_tasks"
os.environ["__REFLEX_SKIP_COMPILE"] = "true"

from starlette.testclient import TestClient

from harness.databases import REDIS_URL, create_database, drop_database
from tasks.engine import Engine, get_engine
from tasks.settings import Settings
from tasks.store import Store

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(name: str, error: Exception) -> None:
    """Locally a missing service skips with the reason; under CI it fails the test."""
    message = f"{name} is not reachable ({error.__class__.__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI must run the {name} tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def asgi_app() -> object:
    """Reflex builds its ASGI app once per process; every API test shares it."""
    from reflex.utils import prerequisites

    return prerequisites.get_and_validate_app().app()


@pytest.fixture
def client(asgi_app: object, tmp_path: Path) -> Iterator[TestClient]:
    """A running app on a fresh SQLite file for each test."""
    engine = get_engine()
    engine.settings = Settings(data_dir=tmp_path)
    with TestClient(asgi_app) as test_client:
        yield test_client


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    try:
        url = await create_database("spyglass_test")
    except Exception as exc:
        require_service("PostgreSQL", exc)
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def redis_url() -> str:
    """The test Redis; each test namespaces its keys and channels with its own prefix."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except Exception as exc:
        require_service("Redis", exc)
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store of each kind: SQLite file and real PostgreSQL."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path, heartbeat_seconds=0.2, worker_dead_after_seconds=1)
    url = request.getfixturevalue("postgres_url")
    return Settings(data_dir=tmp_path, database_url=url, heartbeat_seconds=0.2, worker_dead_after_seconds=1)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """A started store of each kind, on its own: no engine, no bus."""
    store = Store(settings.async_database_url, progress_flush_seconds=0.05)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[Engine]:
    engine = Engine(settings, registry=get_engine().registry)
    await engine.start()
    try:
        yield engine
    finally:
        if engine.started:
            await engine.stop()


@pytest.fixture(scope="session")
def reflex_app(asgi_app: object) -> object:
    """The rx.App behind the ASGI app (for reading client state instances)."""
    from reflex.utils import prerequisites

    return prerequisites.get_app().app


@pytest.fixture
def mint(client: TestClient) -> object:
    """Creates a client token on the running test app: mint("alice") -> secret."""
    from datetime import timedelta

    def _mint(name: str, expires_in: timedelta | None = None) -> str:
        return client.portal.call(get_engine().auth.create, name, expires_in).token

    return _mint
