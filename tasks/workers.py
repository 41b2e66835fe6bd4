"""Workers: each backend process that runs tasks heartbeats into the `worker`
table; every worker sweeps for tasks whose worker is gone and ends them
`Interrupted`, so none is left Processing after a crash.

A worker is gone when its heartbeat is older than SPYGLASS_WORKER_DEAD_AFTER_SECONDS,
or at once when it was on this host and its process no longer exists. The end
of an orphan is a compare-and-set on its status: when several survivors sweep at
once, one of them records it and publishes its `error` event.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from tasks.bus import ALL_TASKS_TOPIC, Bus, client_topic, task_topic
from tasks.events import EventType, TaskEvent, TaskSnapshot, as_utc, utcnow
from tasks.ids import EventClock
from tasks.rows import PlainRecord, TaskRow
from tasks.status import TaskStatus
from tasks.store import Store
from tasks.tables import WorkerRecord

log = logging.getLogger("spyglass.workers")

INTERRUPTED_REASON = "the worker running this task stopped before it finished"
PROCESS_STARTED = utcnow()


def topics(record: TaskRow) -> tuple[str, ...]:
    """Where a task's events go: its own stream, the all-tasks feed, its client's feeds."""
    if record.client is None:
        return (task_topic(record.id), ALL_TASKS_TOPIC)
    return (
        task_topic(record.id),
        ALL_TASKS_TOPIC,
        client_topic(record.client, record.state),
        client_topic(record.client),
    )


class WorkerInfo(BaseModel):
    """A backend worker as the dashboard and the admin API show it."""

    id: str
    hostname: str
    pid: int
    status: Literal["alive", "stopped", "dead"]
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    running: int = 0
    started: int = 0
    finished: int = 0


class WorkerMonitor:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: EventClock,
        worker_id: str,
        dead_after_seconds: float,
        retention_seconds: float,
        forget: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.worker_id = worker_id
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.dead_after = timedelta(seconds=dead_after_seconds)
        self.retention = timedelta(seconds=retention_seconds)
        self._forget = forget

    async def heartbeat(self) -> bool:
        """False when the survivors had declared this worker dead (it stalled past
        SPYGLASS_WORKER_DEAD_AFTER_SECONDS) and ended its tasks Interrupted."""
        return await self.store.heartbeat(self.worker_id, self.hostname, self.pid, utcnow())

    async def leave(self) -> None:
        """A graceful stop (its tasks were ended already)."""
        await self.store.mark_workers_stopped([self.worker_id], "stopped", utcnow())

    def is_alive(self, worker: WorkerRecord, cutoff: datetime) -> bool:
        if worker.id == self.worker_id:
            return True
        if worker.hostname == self.hostname:
            if worker.pid == self.pid:
                # Our pid: a previous process that had it (it started before this one)
                # is dead; another engine of this very process (tests run two) is
                # judged by its heartbeat like any other.
                started = as_utc(worker.started_at)
                if started is None or started < PROCESS_STARTED:
                    return False
            else:
                try:
                    os.kill(worker.pid, 0)
                except ProcessLookupError:
                    return False
                except PermissionError:
                    pass
        heartbeat = worker.heartbeat_at
        if heartbeat is not None and heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=cutoff.tzinfo)
        return heartbeat is not None and heartbeat >= cutoff

    async def overview(self) -> list[WorkerInfo]:
        """Every worker seen in the last day, alive first, with its task counts."""
        counts = await self.store.task_counts_by_worker()
        cutoff = utcnow() - self.dead_after
        infos = []
        for worker in await self.store.workers(include_stopped=True):
            if worker.stopped_at is None:
                status: Literal["alive", "stopped", "dead"] = "alive" if self.is_alive(worker, cutoff) else "dead"
            else:
                status = "stopped" if worker.stop_reason == "stopped" else "dead"
            infos.append(
                WorkerInfo(
                    id=worker.id,
                    hostname=worker.hostname,
                    pid=worker.pid,
                    status=status,
                    started_at=as_utc(worker.started_at) or utcnow(),
                    heartbeat_at=as_utc(worker.heartbeat_at) or utcnow(),
                    stopped_at=as_utc(worker.stopped_at),
                    **counts.get(worker.id, {}),
                )
            )
        infos.sort(key=lambda w: (w.status != "alive", w.hostname, w.started_at))
        return infos

    async def interrupt_orphans(self) -> int:
        """Ends Interrupted every active task whose worker is gone; returns how many."""
        now = utcnow()
        cutoff = now - self.dead_after
        workers = await self.store.workers()
        alive = [w.id for w in workers if self.is_alive(w, cutoff)]
        await self.store.mark_workers_stopped([w.id for w in workers if w.id not in alive], "died", now)
        await self.store.forget_workers(now - timedelta(days=1))
        count = 0
        for record in await self.store.orphaned_tasks(alive):
            if await self._interrupt(record):
                count += 1
        if count:
            log.warning("marked %d orphaned task(s) Interrupted", count)
        return count

    async def _interrupt(self, record: PlainRecord) -> bool:
        now = utcnow()
        record.status = TaskStatus.INTERRUPTED.value
        record.error, record.error_code, record.message = INTERRUPTED_REASON, "interrupted", INTERRUPTED_REASON
        record.finished_at = record.updated_at = now
        record.last_event_id = self.clock.next(floor=record.last_event_id)
        event = TaskEvent(
            id=record.last_event_id,
            task_id=record.id,
            type=EventType.ERROR,
            timestamp=now,
            snapshot=TaskSnapshot.of(record),
            message=INTERRUPTED_REASON,
            hint="start the task again",
        )
        values = {
            "status": record.status,
            "error": record.error,
            "error_code": record.error_code,
            "message": record.message,
            "finished_at": now,
            "updated_at": now,
            "last_event_id": record.last_event_id,
            "purge_after": now + self.retention,
            "duration_seconds": (now - started).total_seconds() if (started := as_utc(record.started_at)) else None,
        }
        if not await self.store.finish_orphan(record.id, values, [event]):
            return False
        self._forget(record.id)
        self.bus.publish(event, topics(record))
        return True
