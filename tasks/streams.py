"""One event stream per task, shared by WebSocket and SSE.

Order of a stream: a snapshot, then (when resuming after an id) every durable
event after that id, then live events. Each event is sent once, ids increase;
a single-task stream ends after the terminal event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel

from tasks.bus import client_topic, task_topic
from tasks.engine import Access, Engine
from tasks.events import EventType, TaskEvent, TaskSnapshot


def _snapshot_event(snap: TaskSnapshot) -> TaskEvent:
    return TaskEvent(id=snap.last_event_id, task_id=snap.task_id, type=EventType.SNAPSHOT, timestamp=snap.timestamp, snapshot=snap)


async def task_events(
    engine: Engine, task_id: str, *, after: int | None = None, access: Access = Access(), keepalive: float | None = None
) -> AsyncIterator[TaskEvent | None]:
    """Yields the task's events; yields None after `keepalive` idle seconds so a
    transport can send a heartbeat. Raises UnknownTaskId before yielding anything."""
    async with engine.bus.subscribe(task_topic(task_id)) as sub:
        snap = await engine.snapshot(task_id, access)
        yield _snapshot_event(snap)
        last = snap.last_event_id
        replay_from = after
        while True:
            if replay_from is not None:
                for event in await engine.durable_events(task_id, replay_from):
                    last = max(last, event.id)
                    yield event
                    if event.is_terminal:
                        return
                replay_from = None
            if snap.is_terminal:
                return
            event = await sub.get(timeout=keepalive)
            if sub.overflowed:
                sub.reset_overflow()
                snap = await engine.snapshot(task_id, access)
                yield _snapshot_event(snap)
                replay_from, last = last, snap.last_event_id
                continue
            if event is None:
                yield None
                continue
            for event in coalesce([event, *sub.drain()]):
                if event.id <= last:
                    continue
                last = event.id
                yield event
                if event.is_terminal:
                    return


def coalesce(events: list[TaskEvent]) -> list[TaskEvent]:
    """Drops status events superseded by a later one of the same task in the same
    batch: a watcher that fell behind gets the latest progress at once, never a
    backlog of ticks. Durable events are all kept, in order."""
    latest: dict[str, int] = {}
    for i, event in enumerate(events):
        if event.type is EventType.STATUS:
            latest[event.task_id] = i
    return [e for i, e in enumerate(events) if e.type is not EventType.STATUS or latest[e.task_id] == i]


class ClientSnapshot(BaseModel):
    """First message of a client stream: that client's recent tasks in the state."""

    type: str = "snapshot"
    tasks: list[TaskSnapshot]

    @property
    def id(self) -> int:
        return max((t.last_event_id for t in self.tasks), default=0)

    def wire(self) -> dict[str, object]:
        return self.model_dump(mode="json")


async def client_events(
    engine: Engine, client: str, state: str | None, *, after: int | None = None, keepalive: float | None = None
) -> AsyncIterator[ClientSnapshot | TaskEvent | None]:
    """Every event of every task of `client` (in `state`, or all states), live, until
    the caller stops. Resuming after an id replays the durable events after it."""
    async with engine.bus.subscribe(client_topic(client, state)) as sub:
        snaps = await engine.client_tasks(client, state)
        yield ClientSnapshot(tasks=snaps)
        last = {snap.task_id: snap.last_event_id for snap in snaps}
        if after is not None:
            for event in await engine.store.client_events_after(client, after, state):
                last[event.task_id] = max(last.get(event.task_id, 0), event.id)
                yield event
        while True:
            event = await sub.get(timeout=keepalive)
            if sub.overflowed:
                sub.reset_overflow()
                snaps = await engine.client_tasks(client, state)
                last = {snap.task_id: snap.last_event_id for snap in snaps}
                yield ClientSnapshot(tasks=snaps)
                continue
            if event is None:
                yield None
                continue
            for item in coalesce([event, *sub.drain()]):
                if item.id <= last.get(item.task_id, 0):
                    continue
                last[item.task_id] = item.id
                yield item
                if item.is_terminal:
                    last.pop(item.task_id, None)
