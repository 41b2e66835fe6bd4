"""The event bus: task events fanned out to every stream that watches them, and
commands (cancel, deliver a message, token revoked) carried to the worker that
must act on them.

`InMemoryBus` is a real backend, the embedded default: one process, no server.
`RedisBus` (tasks/redis_bus.py) is the same interface across workers and hosts.

A subscriber that falls too far behind, or whose transport dropped events, is
marked `overflowed` and its queue emptied; streams then resync from the store
(a fresh snapshot plus the durable events), so a slow consumer costs bounded
memory and never slows the producer. Durable events are committed before they
are published, so a resync from the store can never miss one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from tasks.events import TaskEvent


def task_topic(task_id: str) -> str:
    return f"task:{task_id}"


def client_topic(client: str, state: str | None = None) -> str:
    """A client's tasks in one state, or (state None) in every state."""
    return f"client:{client}:{state}" if state is not None else f"client:{client}"


ALL_TASKS_TOPIC = "tasks"


class Command(BaseModel):
    """Something one worker asks another (or every other) to do."""

    kind: Literal["cancel", "deliver", "revoked", "resync"]
    task_id: str | None = None
    body: Any = None


class Reply(BaseModel):
    ok: bool
    detail: str | None = None


CommandHandler = Callable[[Command], Awaitable[Reply]]


class Subscription:
    """One subscriber's queue of one topic's events."""

    def __init__(self, topic: str, max_queue: int) -> None:
        self.topic = topic
        self.overflowed = False
        self._max_queue = max_queue
        self._items: deque[TaskEvent] = deque()
        # What the reader awaits: True when woken, False when its timeout passed. A
        # bare future, and one timer kept across reads that re-arms itself to the
        # latest deadline: a watched task's every event wakes every watcher (1,000
        # on a busy one), and asyncio.wait_for made a task and a timer each time.
        self._waiter: asyncio.Future[bool] | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def deliver(self, event: TaskEvent) -> None:
        if self.overflowed:
            return
        if len(self._items) >= self._max_queue:
            self.mark_overflowed()
            return
        self._items.append(event)
        self._wake(True)

    def mark_overflowed(self) -> None:
        """Events were dropped: the reader must resync from the store."""
        self.overflowed = True
        self._items.clear()
        self._wake(True)

    def _wake(self, woken: bool) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(woken)

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiter is None or self._waiter.done() or self._deadline is None:
            return  # no reader, or one without a timeout
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline:
            self._wake(False)
        else:
            self._timer = loop.call_at(self._deadline, self._on_timer)

    def reset_overflow(self) -> None:
        self.overflowed = False

    async def get(self, timeout: float | None = None) -> TaskEvent | None:
        """The next event; None after `timeout` seconds without one, or at once
        when the subscription overflowed."""
        while not self._items:
            if self.overflowed:
                return None
            if self._waiter is not None:
                raise RuntimeError("a subscription has one reader at a time")
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            self._deadline = None if timeout is None else loop.time() + timeout
            if self._deadline is not None and (self._timer is None or self._timer.when() > self._deadline):
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_at(self._deadline, self._on_timer)
            try:
                woken = await self._waiter
            finally:
                self._waiter = None
            if not woken:
                return None
        return self._items.popleft()

    def drain(self) -> list[TaskEvent]:
        """Every event already queued, without waiting."""
        events = list(self._items)
        self._items.clear()
        return events


class Bus(Protocol):
    worker_id: str
    # Other workers publish on it too (Redis): an event about a task running here
    # may come from elsewhere (a survivor ending the tasks of a worker it declared dead).
    shared: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None: ...

    def publish(self, event: TaskEvent, topics: Sequence[str]) -> None:
        """Delivers in publish order: never blocks the task that publishes."""

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Once entered, every event published to `topic` is delivered."""

    def heard(self, topics: Sequence[str]) -> bool:
        """False only when no subscriber anywhere would get an event on these topics:
        then a progress tick is not worth making (the row still records it)."""

    def on_command(self, handler: CommandHandler) -> None: ...

    async def request(self, worker_id: str, command: Command, timeout: float = 2.0) -> Reply | None:
        """The worker's answer, or None if no such worker is reachable."""

    async def broadcast(self, command: Command) -> None:
        """Every worker (this one included) handles the command."""


class LocalDispatch:
    """Subscribers of this process, by topic: the delivery half of every bus."""

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.subscribers: dict[str, set[Subscription]] = {}

    def deliver(self, event: TaskEvent, topics: Sequence[str]) -> None:
        for topic in topics:
            for sub in self.subscribers.get(topic, ()):
                sub.deliver(event)

    def heard(self, topics: Sequence[str]) -> bool:
        subscribers = self.subscribers
        return any(topic in subscribers for topic in topics)

    def add(self, topic: str) -> Subscription:
        sub = Subscription(topic, self.max_queue)
        self.subscribers.setdefault(topic, set()).add(sub)
        return sub

    def remove(self, sub: Subscription) -> bool:
        """Returns True when it was the topic's last subscriber."""
        subs = self.subscribers.get(sub.topic)
        if subs is None:
            return False
        subs.discard(sub)
        if subs:
            return False
        del self.subscribers[sub.topic]
        return True

    def overflow_all(self) -> None:
        for subs in self.subscribers.values():
            for sub in subs:
                sub.mark_overflowed()


class InMemoryBus:
    shared = False

    def __init__(self, worker_id: str = "local", max_queue: int = 10_000) -> None:
        self.worker_id = worker_id
        self.local = LocalDispatch(max_queue)
        self._handler: CommandHandler | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.local.subscribers.clear()

    async def ping(self) -> None:
        return None

    def publish(self, event: TaskEvent, topics: Sequence[str]) -> None:
        self.local.deliver(event, topics)

    def heard(self, topics: Sequence[str]) -> bool:
        return self.local.heard(topics)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        sub = self.local.add(topic)
        try:
            yield sub
        finally:
            self.local.remove(sub)

    def on_command(self, handler: CommandHandler) -> None:
        self._handler = handler

    async def request(self, worker_id: str, command: Command, timeout: float = 2.0) -> Reply | None:
        if worker_id != self.worker_id or self._handler is None:
            return None
        return await self._handler(command)

    async def broadcast(self, command: Command) -> None:
        if self._handler is not None:
            await self._handler(command)
