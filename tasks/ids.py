"""Identifiers: unguessable task ids and monotonic event ids."""

from __future__ import annotations

import secrets
import time


def new_task_id() -> str:
    """128 random bits, URL-safe: ids must not be guessable or enumerable."""
    return secrets.token_urlsafe(16)


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
