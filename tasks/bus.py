"""The event bus: fan-out of task events to every stream that watches them.

`InMemoryBus` is a real backend, the embedded default: one process, no server.
A subscriber that falls too far behind is marked `overflowed` and its queue is
dropped; streams then resync from a fresh snapshot plus the durable events, so a
slow consumer costs memory bounded by `max_queue`, never the producer's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from tasks.events import TaskEvent


def task_topic(task_id: str) -> str:
    return f"task:{task_id}"


def client_topic(client: str, state: str | None = None) -> str:
    """A client's tasks in one state, or (state None) in every state."""
    return f"client:{client}:{state}" if state is not None else f"client:{client}"


ALL_TASKS_TOPIC = "tasks"


class Subscription:
    def __init__(self, topics: tuple[str, ...], max_queue: int) -> None:
        self.topics = topics
        self.overflowed = False
        self._max_queue = max_queue
        self._queue: asyncio.Queue[TaskEvent] = asyncio.Queue()

    def deliver(self, event: TaskEvent) -> None:
        if self._queue.qsize() >= self._max_queue:
            self.overflowed = True
            self._queue = asyncio.Queue()
            return
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> TaskEvent | None:
        """The next event, or None after `timeout` seconds without one."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def drain(self) -> list[TaskEvent]:
        """Every event already queued, without waiting."""
        events = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events

    def reset_overflow(self) -> None:
        self.overflowed = False


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None: ...

    async def publish(self, event: TaskEvent, *topics: str) -> None: ...

    def subscribe(self, *topics: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...


class InMemoryBus:
    def __init__(self, max_queue: int = 10_000) -> None:
        self._max_queue = max_queue
        self._subscribers: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subscribers.clear()

    async def ping(self) -> None:
        return None

    async def publish(self, event: TaskEvent, *topics: str) -> None:
        self.publish_nowait(event, *topics)

    def publish_nowait(self, event: TaskEvent, *topics: str) -> None:
        delivered: set[int] = set()
        for topic in topics:
            for sub in self._subscribers.get(topic, ()):
                if id(sub) not in delivered:
                    delivered.add(id(sub))
                    sub.deliver(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[Subscription]:
        sub = Subscription(topics, self._max_queue)
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(sub)
        try:
            yield sub
        finally:
            for topic in topics:
                subs = self._subscribers.get(topic)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscribers[topic]
