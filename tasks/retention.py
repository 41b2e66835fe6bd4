"""How long an ended task is kept, and the sweep that deletes it afterwards.
Running tasks have no expiry and are never swept."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tasks.events import utcnow
from tasks.registry import TaskSpec
from tasks.store import Store

log = logging.getLogger("spyglass.retention")


def purge_after(spec: TaskSpec, default_seconds: float, finished_at: datetime) -> datetime:
    """The task's own `retention`, else the server's default."""
    return finished_at + timedelta(seconds=spec.options.retention or default_seconds)


async def purge_expired(store: Store, remove: Callable[[list[str]], Awaitable[None]], batch: int = 500) -> int:
    """Deletes every task past its retention, `batch` at a time (rows, events and
    artifact files, through `remove`); returns how many."""
    total = 0
    while ids := await store.purgeable(utcnow(), limit=batch):
        await remove(ids)
        total += len(ids)
        if len(ids) < batch:
            break
    if total:
        log.info("purged %d finished task(s) past their retention", total)
    return total
