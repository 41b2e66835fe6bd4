"""One event stream per task, shared by WebSocket and SSE (and the start-and-stream
answer of a start route).

A single-task stream is: a snapshot, then (when resuming) every durable event
after the resume id, then live events, until the terminal event. Ids on the
stream strictly increase, the snapshot's included: its id is the point the rest
of the stream continues from, so a client that resumes from *any* id it received
loses nothing durable and receives nothing twice. Progress ticks a slow watcher
missed are coalesced into the next status it gets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pydantic import BaseModel

from tasks.access import Access
from tasks.bus import Bus, Subscription, client_topic, task_topic
from tasks.events import EventType, TaskEvent, TaskSnapshot

MAX_EVENT_ID = 2**63 - 1  # ids are stored as signed 64-bit integers
MAX_TRACKED_TASKS = 10_000  # per client stream


class StreamSource(Protocol):
    """What a stream reads: the engine, seen through one caller's access."""

    bus: Bus

    async def snapshot(self, task_id: str, access: Access) -> TaskSnapshot: ...

    async def durable_events(self, task_id: str, after: int = 0) -> list[TaskEvent]: ...

    async def client_tasks(self, client: str, state: str | None, limit: int = 50) -> list[TaskSnapshot]: ...

    async def client_events_after(self, client: str, after: int, state: str | None) -> list[TaskEvent]: ...


def snapshot_event(snap: TaskSnapshot, event_id: int, type_: str = EventType.SNAPSHOT) -> TaskEvent:
    return TaskEvent.made(
        id=event_id,
        task_id=snap.task_id,
        type=type_,
        timestamp=snap.timestamp,
        snapshot=snap,
        level=None,
        message=None,
        hint=None,
        data=None,
    )


def terminal_event(snap: TaskSnapshot) -> TaskEvent:
    """A task's end, rebuilt from its snapshot: only for a record that lost its
    terminal event (the engine always stores one)."""
    if snap.status == "Completed":
        return snapshot_event(snap, snap.last_event_id, EventType.RESULT)
    event = snapshot_event(snap, snap.last_event_id, EventType.ERROR)
    return event.model_copy(update={"message": snap.error})


def resume_point(snap: TaskSnapshot, after: int | None) -> tuple[int, bool]:
    """(id of the first message, whether durable events after it are replayed).

    A running task's stream starts at its newest event, or at `after` when the
    client has older ones. A finished task's stream always carries its terminal
    event, so it starts just before it unless the client already has it."""
    newest = snap.last_event_id
    if after is not None and after >= newest:
        return newest, False  # the client has everything (or named an id of the future)
    if snap.is_terminal:
        return (after if after is not None else newest - 1), True
    if after is None:
        return newest, False
    return after, True


async def task_events(
    source: StreamSource,
    task_id: str,
    *,
    after: int | None = None,
    access: Access,
    keepalive: float | None = None,
) -> AsyncIterator[TaskEvent | None]:
    """Yields the task's stream; yields None after `keepalive` idle seconds so a
    transport can send a heartbeat or notice a departed client. Raises
    UnknownTaskId before yielding anything."""
    async with source.bus.subscribe(task_topic(task_id)) as sub:
        snap = await source.snapshot(task_id, access)
        last, replay = resume_point(snap, after)
        yield snapshot_event(snap, last)
        if replay or snap.is_terminal:
            async for event in _catch_up(source, task_id, snap, last, replay):
                last = event.id
                yield event
                if event.is_terminal:
                    return
        if snap.is_terminal:
            return  # the client already had the end
        async for item in _live(source, sub, task_id, access, last, keepalive):
            yield item
            if item is not None and item.is_terminal:
                return


async def _catch_up(
    source: StreamSource, task_id: str, snap: TaskSnapshot, last: int, replay: bool
) -> AsyncIterator[TaskEvent]:
    """Durable events after `last`; for an ended task, its terminal event at the end."""
    ended = False
    if replay:
        for event in await source.durable_events(task_id, last):
            ended = ended or event.is_terminal
            yield event
            last = event.id
    if snap.is_terminal and not ended and snap.last_event_id > last:
        yield terminal_event(snap)


async def _live(
    source: StreamSource, sub: Subscription, task_id: str, access: Access, last: int, keepalive: float | None
) -> AsyncIterator[TaskEvent | None]:
    while True:
        event = await sub.get(timeout=keepalive)
        if sub.overflowed:
            # Events were dropped (a slow reader, a lost Redis connection): catch up
            # from the store, then send the current state as a status message.
            sub.reset_overflow()
            snap = await source.snapshot(task_id, access)
            async for missed in _catch_up(source, task_id, snap, last, replay=True):
                last = missed.id
                yield missed
                if missed.is_terminal:
                    return
            if snap.last_event_id > last and not snap.is_terminal:
                last = snap.last_event_id
                yield snapshot_event(snap, last, EventType.STATUS)
            continue
        if event is None:
            yield None
            continue
        queued = sub.drain()
        for item in coalesce([event, *queued]) if queued else (event,):
            if item.id <= last:
                continue
            last = item.id
            yield item
            if item.is_terminal:
                return


def coalesce(events: list[TaskEvent]) -> list[TaskEvent]:
    """Drops status events superseded by a later one of the same task in the same
    batch: a watcher that fell behind gets the latest progress at once, never a
    backlog of ticks. Durable events are all kept, in order."""
    latest: dict[str, int] = {}
    for i, event in enumerate(events):
        if event.type == EventType.STATUS:
            latest[event.task_id] = i
    return [e for i, e in enumerate(events) if e.type != EventType.STATUS or latest[e.task_id] == i]


class ClientSnapshot(BaseModel):
    """First message of a client stream: that client's recent tasks in the state.
    `id` is where the stream continues from (resume with it)."""

    type: str = "snapshot"
    id: int
    tasks: list[TaskSnapshot]

    def wire(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    def wire_text(self) -> str:
        return self.model_dump_json()


async def client_events(
    source: StreamSource,
    client: str,
    state: str | None,
    *,
    after: int | None = None,
    keepalive: float | None = None,
) -> AsyncIterator[ClientSnapshot | TaskEvent | None]:
    """Every event of every task of `client` (in `state`, or all states), live, until
    the caller stops. Resuming after an id replays the durable events after it.

    Event ids are per task; across tasks they follow event time, so the order of
    events of different tasks on this stream is the order they happened in."""
    async with source.bus.subscribe(client_topic(client, state)) as sub:
        snaps = await source.client_tasks(client, state)
        newest = max((s.last_event_id for s in snaps), default=0)
        start = min(after, newest) if after is not None else newest
        yield ClientSnapshot(id=start, tasks=snaps)
        last = {snap.task_id: snap.last_event_id for snap in snaps}
        running = {snap.task_id for snap in snaps if not snap.is_terminal}
        horizon = start  # the newest id this stream has passed on
        if after is not None:
            for event in await source.client_events_after(client, start, state):
                last[event.task_id] = max(last.get(event.task_id, 0), event.id)
                horizon = max(horizon, event.id)
                yield event
        while True:
            received = await sub.get(timeout=keepalive)
            if sub.overflowed:
                # Catch up from the store: from the oldest point a running task (or a
                # task started meanwhile) may have moved on from, deduplicated per task.
                # The tasks are read first: whatever happened up to their snapshots is
                # then in the catch-up, and whatever happens after arrives live.
                sub.reset_overflow()
                current = await source.client_tasks(client, state)
                resync_from = min([horizon, *(last[t] for t in running if t in last)])
                for missed in await source.client_events_after(client, resync_from, state):
                    if missed.id > last.get(missed.task_id, 0):
                        last[missed.task_id] = missed.id
                        horizon = max(horizon, missed.id)
                        yield missed
                for snap in current:
                    if snap.last_event_id > last.get(snap.task_id, 0) and not snap.is_terminal:
                        last[snap.task_id] = snap.last_event_id
                        running.add(snap.task_id)
                        yield snapshot_event(snap, snap.last_event_id, EventType.STATUS)
                continue
            if received is None:
                yield None
                continue
            for item in coalesce([received, *sub.drain()]):
                if item.id <= last.get(item.task_id, 0):
                    continue
                last[item.task_id] = item.id
                horizon = max(horizon, item.id)
                if item.is_terminal:
                    running.discard(item.task_id)
                    if len(last) > MAX_TRACKED_TASKS:  # forget the oldest finished tasks
                        for task_id in [t for t in last if t not in running][: len(last) // 2]:
                            del last[task_id]
                else:
                    running.add(item.task_id)
                yield item
