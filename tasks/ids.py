"""Identifiers: unguessable task ids and monotonic event ids."""

from __future__ import annotations

import secrets
import time


def new_task_id() -> str:
    """The creation time in milliseconds (11 hex digits), then 128 random bits,
    URL-safe. The random part makes ids unguessable and not enumerable; the time
    part makes ids made close together sort together, so a new task's row and
    events land on the index pages the last ones did, instead of dirtying a
    random page of each index per task (measured: a sixth of the store's CPU)."""
    return f"{time.time_ns() // 1_000_000:011x}{secrets.token_urlsafe(16)}"


class EventClock:
    """Event ids are microseconds since the epoch, forced strictly increasing.

    Time-based ids stay sortable across tasks (a client stream can resume from one
    id) and a task's events are all stamped by the one worker that runs it.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self, floor: int = 0) -> int:
        now = time.time_ns() // 1000
        self._last = max(now, self._last + 1, floor + 1)
        return self._last
