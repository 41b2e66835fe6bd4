"""A task's outgoing events, published in id order, each durable one only once
it is committed.

This is what makes "resume from any id" hold on every worker: whoever hears of
a durable event (a live stream here or on another host, a resync after a lost
Redis connection) can find it in the store. Progress ticks are not stored
one by one, so they go out at once unless a durable event ahead of them is
still being written (a few milliseconds of group commit).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from tasks.events import TaskEvent

log = logging.getLogger("spyglass.runner")


class Outbox:
    def __init__(self, publish: Callable[[TaskEvent], None]) -> None:
        self._publish = publish
        self._queue: deque[tuple[TaskEvent, asyncio.Future[None] | None]] = deque()
        self._waiting_on: asyncio.Future[None] | None = None

    def put(self, event: TaskEvent, written: asyncio.Future[None] | None = None) -> None:
        """Queue an event; `written` resolves when a durable event is committed."""
        self._queue.append((event, written))
        self.flush()

    @property
    def holding(self) -> bool:
        """Events wait behind a durable one that is being committed."""
        return bool(self._queue)

    def unpublished(self) -> list[TaskEvent]:
        """Durable events written or being written but not yet published."""
        return [event for event, written in self._queue if written is not None]

    def flush(self) -> None:
        while self._queue:
            event, written = self._queue[0]
            if written is not None and not written.done():
                if self._waiting_on is not written:
                    self._waiting_on = written
                    written.add_done_callback(lambda _: self.flush())
                return
            self._queue.popleft()
            if written is not None and (written.cancelled() or written.exception() is not None):
                # Watchers still hear of it; a later resume from the store will not.
                log.error("event %s of task %s was not stored", event.id, event.task_id)
            self._publish(event)
