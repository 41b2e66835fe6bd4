"""Holding a store's commits back: a slow group commit (PostgreSQL latency, an
outage retry) made deterministic, to test what happens while one is in flight."""

from __future__ import annotations

import asyncio
from typing import Any

from tasks.engine import Engine


def hold_commits(engine: Engine) -> asyncio.Event:
    """Commits queued from now on wait until the returned event is set."""
    release = asyncio.Event()
    commit = engine.store._transaction

    async def held(*args: Any) -> None:
        await release.wait()
        await commit(*args)

    engine.store._transaction = held  # type: ignore[method-assign]
    return release
