"""The runner: starts task coroutines on this worker's event loop, tracks them
while they run, and records how each one ends. It is the only writer of a task's
events, so their ids are ordered per task."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from tasks.bus import ALL_TASKS_TOPIC, Bus, task_topic
from tasks.context import TaskContext
from tasks.errors import TooManyTasks, UnknownTaskId
from tasks.events import EventType, TaskEvent, TaskSnapshot, utcnow
from tasks.ids import EventClock, new_task_id
from tasks.registry import TaskSpec
from tasks.settings import Settings
from tasks.status import LogLevel, TaskStatus
from tasks.store import Store
from tasks.tables import TaskRecord, WorkerRecord

log = logging.getLogger("spyglass.runner")


class ResultNotSerializable(TypeError):
    pass


@dataclass
class LiveTask:
    """A task this worker runs: the in-memory truth until its terminal row is committed."""

    record: TaskRecord
    spec: TaskSpec
    args: BaseModel | None
    pending: list[TaskEvent] = field(default_factory=list)
    handle: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    result: Any = None
    error: str | None = None
    code: str | None = None
    hint: str | None = None


def _json_result(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResultNotSerializable(
            f"the task returned a {type(value).__name__}, which is not JSON-serialisable: {exc}"
        ) from None
    return value


class Runner:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.worker_id = new_task_id()
        self.hostname = socket.gethostname()
        self._clock = EventClock()
        self._live: dict[str, LiveTask] = {}
        self._stopping = False
        self._maintenance: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self.store.heartbeat(self.worker_id, self.hostname, os.getpid(), utcnow())
        await self.interrupt_orphans()
        self._maintenance = asyncio.create_task(self._maintain(), name="spyglass-runner-maintenance")

    async def stop(self) -> None:
        """Graceful shutdown: running tasks end as Interrupted, recorded before we exit."""
        self._stopping = True
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        handles = [live.handle for live in self._live.values() if live.handle is not None]
        for handle in handles:
            handle.cancel()
        await asyncio.gather(*handles, return_exceptions=True)
        await self.store.remove_workers([self.worker_id])

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self.store.heartbeat(self.worker_id, self.hostname, os.getpid(), utcnow())
                await self.interrupt_orphans()
            except Exception:
                log.exception("worker maintenance failed; retrying at the next heartbeat")

    def _is_alive(self, worker: WorkerRecord, now_cutoff: Any) -> bool:
        if worker.id == self.worker_id:
            return True
        if worker.hostname == self.hostname:
            if worker.pid == os.getpid():
                return False
            try:
                os.kill(worker.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
        heartbeat = worker.heartbeat_at
        if heartbeat is not None and heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=now_cutoff.tzinfo)
        return heartbeat is not None and heartbeat >= now_cutoff

    async def interrupt_orphans(self) -> int:
        """Mark Interrupted every active task whose worker is gone; returns how many."""
        cutoff = utcnow() - timedelta(seconds=self.settings.worker_dead_after_seconds)
        workers = await self.store.workers()
        alive = [w.id for w in workers if self._is_alive(w, cutoff)]
        await self.store.remove_workers([w.id for w in workers if w.id not in alive])
        count = 0
        for record in await self.store.orphaned_tasks(alive):
            now = utcnow()
            reason = "the worker running this task stopped before it finished"
            record.status = TaskStatus.INTERRUPTED.value
            record.error, record.error_code, record.message = reason, "interrupted", reason
            record.finished_at = record.updated_at = now
            record.last_event_id = self._clock.next(floor=record.last_event_id)
            event = TaskEvent(
                id=record.last_event_id,
                task_id=record.id,
                type=EventType.ERROR,
                timestamp=now,
                snapshot=TaskSnapshot.of(record),
                message=reason,
                hint="start the task again",
            )
            values = {
                "status": TaskStatus.INTERRUPTED.value,
                "error": reason,
                "error_code": "interrupted",
                "message": reason,
                "finished_at": now,
                "updated_at": now,
                "last_event_id": record.last_event_id,
            }
            if await self.store.finish_orphan(record.id, values, [event]):
                await self.bus.publish(event, task_topic(record.id), ALL_TASKS_TOPIC)
                count += 1
        if count:
            log.warning("marked %d orphaned task(s) Interrupted", count)
        return count

    # -- reads --------------------------------------------------------------

    def live(self, task_id: str) -> LiveTask | None:
        return self._live.get(task_id)

    async def snapshot(self, task_id: str) -> TaskSnapshot:
        live = self._live.get(task_id)
        if live is not None:
            return TaskSnapshot.of(live.record)
        record = await self.store.get_task(task_id)
        if record is None:
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        return TaskSnapshot.of(record)

    def pending_events(self, task_id: str) -> list[TaskEvent]:
        """Durable events published but maybe not yet committed (for stream resume)."""
        live = self._live.get(task_id)
        return list(live.pending) if live is not None else []

    def active_count(self, spec: TaskSpec | None = None) -> int:
        if spec is None:
            return len(self._live)
        return sum(1 for live in self._live.values() if live.spec is spec)

    # -- start --------------------------------------------------------------

    async def launch(self, spec: TaskSpec, args: BaseModel | None, owner: str | None = None) -> TaskSnapshot:
        """Create the record, commit it, then launch: a 202 means the task is durable."""
        self._check_limits(spec)
        now = utcnow()
        record = TaskRecord(
            id=new_task_id(),
            state=spec.state,
            task=spec.name,
            args=args.model_dump(mode="json") if args is not None else None,
            status=TaskStatus.PENDING.value,
            progress=0.0,
            owner=owner,
            worker_id=self.worker_id,
            last_event_id=self._clock.next(),
            created_at=now,
            updated_at=now,
        )
        live = LiveTask(record=record, spec=spec, args=args)
        self._live[record.id] = live
        written = self.store.insert_task(record.model_dump())
        try:
            await asyncio.shield(written)
        except asyncio.CancelledError:
            # The caller went away, but the row will be committed: run the task anyway.
            written.add_done_callback(lambda fut: self._spawn(live) if not fut.exception() else self._live.pop(record.id, None))
            raise
        except Exception:
            self._live.pop(record.id, None)
            raise
        self._spawn(live)
        return TaskSnapshot.of(record)

    def _spawn(self, live: LiveTask) -> None:
        name = f"spyglass-task-{live.spec.state}.{live.spec.name}"
        live.handle = asyncio.create_task(self._execute(live), name=name)

    def _check_limits(self, spec: TaskSpec) -> None:
        limit = spec.options.max_concurrency
        if limit is not None and self.active_count(spec) >= limit:
            raise TooManyTasks(
                f"task {spec.name!r} already has {limit} running (its max_concurrency)",
                hint="retry after a running one finishes",
            )
        if self.active_count() >= self.settings.max_active_tasks:
            raise TooManyTasks(
                f"this server already runs {self.settings.max_active_tasks} tasks",
                hint="retry later or raise SPYGLASS_MAX_ACTIVE_TASKS",
            )

    # -- running ------------------------------------------------------------

    async def _execute(self, live: LiveTask) -> None:
        record = live.record
        record.started_at = utcnow()
        await self.update(live, status=TaskStatus.STARTING, extra={"started_at": record.started_at})
        try:
            outcome = await self._call(live)
        except asyncio.CancelledError:
            outcome = (
                Outcome(TaskStatus.INTERRUPTED, error="the server shut down while the task was running", code="interrupted", hint="start the task again")
                if self._stopping
                else Outcome(TaskStatus.CANCELLED, error="the task was cancelled", code="cancelled")
            )
        except Exception as exc:
            log.exception("task %s.%s (%s) raised", record.state, record.task, record.id)
            outcome = Outcome(TaskStatus.ERROR, error=str(exc) or type(exc).__name__, code="task_failed")
        try:
            await self._finish(live, outcome)
        finally:
            self._live.pop(record.id, None)

    async def _call(self, live: LiveTask) -> Outcome:
        spec = live.spec
        ctx = TaskContext(self, live)
        call_args: list[Any] = [ctx] if live.args is None else [ctx, live.args]
        timeout = spec.options.timeout
        if timeout is None:
            value = await spec.fn(*call_args)
        else:
            warn_before = spec.options.warn_before or timeout / 5
            warner = asyncio.get_running_loop().call_later(
                max(timeout - warn_before, 0), lambda: asyncio.ensure_future(self._warn_timeout(live, warn_before))
            )
            try:
                async with asyncio.timeout(timeout):
                    value = await spec.fn(*call_args)
            except TimeoutError:
                return Outcome(
                    TaskStatus.ERROR,
                    error=f"the task ran past its {timeout:g} s timeout",
                    code="timeout",
                    hint="raise the task's timeout or make it faster",
                )
            finally:
                warner.cancel()
        try:
            return Outcome(TaskStatus.COMPLETED, result=_json_result(value))
        except ResultNotSerializable as exc:
            return Outcome(TaskStatus.ERROR, error=str(exc), code="result_not_serializable", hint="return JSON data: str, number, bool, None, list, dict or a pydantic model")

    async def _warn_timeout(self, live: LiveTask, remaining: float) -> None:
        if live.record.id in self._live and not TaskStatus(live.record.status).is_terminal:
            await self.log(live, f"the task will be stopped in {remaining:g} s (timeout)", LogLevel.WARNING)

    def _next_event(self, live: LiveTask, type_: EventType, **fields: Any) -> TaskEvent:
        now = utcnow()
        record = live.record
        record.last_event_id = self._clock.next(floor=record.last_event_id)
        record.updated_at = now
        snapshot = TaskSnapshot.of(record) if type_ in (EventType.STATUS, EventType.RESULT, EventType.ERROR) else None
        return TaskEvent(id=record.last_event_id, task_id=record.id, type=type_, timestamp=now, snapshot=snapshot, **fields)

    async def update(
        self,
        live: LiveTask,
        progress: float | None = None,
        status: TaskStatus | None = None,
        message: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        record = live.record
        if progress is not None:
            record.progress = float(progress)
        if status is not None:
            record.status = status.value
        if message is not None:
            record.message = message
        event = self._next_event(live, EventType.STATUS)
        self.store.set_progress(
            record.id,
            {
                "progress": record.progress,
                "status": TaskStatus(record.status).value,
                "message": record.message,
                "updated_at": record.updated_at,
                "last_event_id": record.last_event_id,
                **(extra or {}),
            },
        )
        await self.bus.publish(event, task_topic(record.id), ALL_TASKS_TOPIC)

    async def log(self, live: LiveTask, message: str, level: LogLevel) -> None:
        event = self._next_event(live, EventType.LOG, level=level, message=message)
        await self._emit_durable(live, event)
        self.store.set_progress(
            live.record.id, {"updated_at": live.record.updated_at, "last_event_id": live.record.last_event_id}
        )

    async def _emit_durable(self, live: LiveTask, event: TaskEvent) -> None:
        """Publish at once; commit in the background. The terminal write waits for it
        (the writer is FIFO), so nothing durable is lost once a task has ended."""
        live.pending.append(event)
        written = self.store.append_events([event])
        written.add_done_callback(lambda fut: self._committed(live, event, fut))
        await self.bus.publish(event, task_topic(live.record.id), ALL_TASKS_TOPIC)

    @staticmethod
    def _committed(live: LiveTask, event: TaskEvent, fut: asyncio.Future[None]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            log.error("event %s of task %s was not stored", event.id, event.task_id)
        if event in live.pending:
            live.pending.remove(event)

    async def _finish(self, live: LiveTask, outcome: Outcome) -> None:
        record = live.record
        now = utcnow()
        record.status = outcome.status.value
        record.result = outcome.result
        record.error = outcome.error
        record.error_code = outcome.code
        record.finished_at = now
        if outcome.error is not None:
            record.message = outcome.error
        if outcome.status is TaskStatus.COMPLETED:
            event = self._next_event(live, EventType.RESULT)
        else:
            event = self._next_event(live, EventType.ERROR, message=outcome.error, hint=outcome.hint)
        live.pending.append(event)
        await self.bus.publish(event, task_topic(record.id), ALL_TASKS_TOPIC)
        values = {
            "status": outcome.status.value,
            "progress": record.progress,
            "message": record.message,
            "result": outcome.result,
            "error": outcome.error,
            "error_code": outcome.code,
            "finished_at": now,
            "updated_at": record.updated_at,
            "last_event_id": record.last_event_id,
        }
        try:
            await self.store.update_task(record.id, values, [event])
        except Exception:
            log.exception("could not record the end of task %s", record.id)
