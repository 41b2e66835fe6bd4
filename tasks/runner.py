"""The runner: starts task coroutines on this worker's event loop, tracks them
while they run, and records how each one ends. It is the only writer of a task's
events, so their ids are ordered per task."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import logging
import os
import shutil
import socket
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel

from tasks.bus import ALL_TASKS_TOPIC, Bus, client_topic, task_topic
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


MUTABLE_COLUMNS = (
    "status", "progress", "message", "result", "error", "error_code",
    "started_at", "finished_at", "updated_at", "last_event_id", "purge_after",
)


def _row_state(record: TaskRecord) -> dict[str, Any]:
    """Every column that changes while a task runs: one shape, so a batch of
    updates is a single executemany."""
    return {column: getattr(record, column) for column in MUTABLE_COLUMNS}


@dataclass
class LiveTask:
    """A task this worker runs: the in-memory truth until its terminal row is committed."""

    record: TaskRecord
    spec: TaskSpec
    args: BaseModel | None
    pending: list[TaskEvent] = field(default_factory=list)
    handle: asyncio.Task[None] | None = None
    inbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    result: Any = None
    error: str | None = None
    code: str | None = None
    hint: str | None = None


def artifact_dir(settings: Settings, task_id: str) -> Path:
    return settings.data_dir.resolve() / "artifacts" / task_id


def safe_filename(label: str) -> str:
    """A file name that cannot leave its folder: [A-Za-z0-9._-] only, no leading dot."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip(".-")[:100]
    return name or "artifact"


def _unique_name(folder: Path, name: str) -> str:
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    candidate, n = name, 1
    while (folder / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    return candidate


def _write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def topics(record: TaskRecord) -> tuple[str, ...]:
    """Where a task's events go: its own stream, the all-tasks feed, its client's feed."""
    if record.owner is None:
        return (task_topic(record.id), ALL_TASKS_TOPIC)
    return (task_topic(record.id), ALL_TASKS_TOPIC, client_topic(record.owner, record.state), client_topic(record.owner))


def args_fingerprint(spec: TaskSpec, args: BaseModel | None) -> str:
    """What an idempotent repeat must match: the same task with the same arguments."""
    payload = json.dumps([spec.state, spec.name, args.model_dump(mode="json") if args else None], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


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
        self._active: Counter[tuple[str, str]] = Counter()
        self._active_total = 0
        self._endings: set[asyncio.Future[None]] = set()
        # Terminal snapshots of tasks this worker ran: they never change, and
        # "start, then wait for the result" is the commonest read.
        self._finished: OrderedDict[str, TaskSnapshot] = OrderedDict()
        self._stopping = False
        self._maintenance: asyncio.Task[None] | None = None
        # Set by the Reflex side: starts an instance task as a background event.
        self.instance_launcher: Callable[[LiveTask], Awaitable[None]] | None = None

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
        await asyncio.gather(*self._endings, return_exceptions=True)
        await self.store.remove_workers([self.worker_id])

    async def _maintain(self) -> None:
        last_purge = 0.0
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self.store.heartbeat(self.worker_id, self.hostname, os.getpid(), utcnow())
                await self.interrupt_orphans()
                if time.monotonic() - last_purge >= self.settings.purge_interval_seconds:
                    last_purge = time.monotonic()
                    await self.purge_expired()
            except Exception:
                log.exception("worker maintenance failed; retrying at the next heartbeat")

    async def purge_expired(self) -> int:
        """Deletes finished tasks past their retention; running tasks are never touched."""
        ids = await self.store.purgeable(utcnow())
        if ids:
            await self.remove(ids)
            log.info("purged %d finished task(s) past their retention", len(ids))
        return len(ids)

    async def remove(self, task_ids: list[str]) -> None:
        """Deletes finished tasks' rows, events and artifacts."""
        await self.store.delete_tasks(task_ids)
        for task_id in task_ids:
            self.forget(task_id)
            await asyncio.to_thread(shutil.rmtree, artifact_dir(self.settings, task_id), True)

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
                await self.bus.publish(event, *topics(record))
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
        finished = self._finished.get(task_id)
        if finished is not None:
            return finished
        record = await self.store.get_task(task_id)
        if record is None:
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        return TaskSnapshot.of(record)

    def pending_events(self, task_id: str) -> list[TaskEvent]:
        """Durable events published but maybe not yet committed (for stream resume)."""
        live = self._live.get(task_id)
        return list(live.pending) if live is not None else []

    def active_count(self, spec: TaskSpec | None = None) -> int:
        """Tasks not yet ended (an ended one may still be waiting for its commit)."""
        return self._active[spec.state, spec.name] if spec is not None else self._active_total

    def _count(self, spec: TaskSpec, delta: int) -> None:
        self._active[spec.state, spec.name] += delta
        self._active_total += delta

    # -- start --------------------------------------------------------------

    async def launch(
        self, spec: TaskSpec, args: BaseModel | None, owner: str | None = None, idempotency_key: str | None = None
    ) -> TaskSnapshot:
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
            idempotency_key=idempotency_key,
            args_hash=args_fingerprint(spec, args) if idempotency_key else None,
            worker_id=self.worker_id,
            last_event_id=self._clock.next(),
            created_at=now,
            updated_at=now,
        )
        live = LiveTask(record=record, spec=spec, args=args)
        self._live[record.id] = live
        self._count(spec, +1)
        written = self.store.insert_task(record.model_dump())
        try:
            await asyncio.shield(written)
        except asyncio.CancelledError:
            # The caller went away, but the row will be committed: run the task anyway.
            written.add_done_callback(lambda fut: self._spawn(live) if not fut.exception() else self._drop(live))
            raise
        except Exception:
            self._drop(live)
            raise
        self._spawn(live)
        return TaskSnapshot.of(record)

    def _drop(self, live: LiveTask) -> None:
        """Forget a task whose row was never written."""
        self._live.pop(live.record.id, None)
        self._count(live.spec, -1)

    def _spawn(self, live: LiveTask) -> None:
        name = f"spyglass-task-{live.spec.state}.{live.spec.name}"
        if live.spec.is_static:
            live.handle = asyncio.create_task(self._execute(live, live.spec.fn), name=name)
        else:
            live.handle = asyncio.create_task(self._launch_instance(live), name=name)
        live.handle.add_done_callback(lambda handle: self._ensure_ended(live, handle))

    def _ensure_ended(self, live: LiveTask, handle: asyncio.Task[None]) -> None:
        """A task cancelled before its coroutine ran never reaches `_execute`'s
        handlers: record its end here."""
        if handle.cancelled() and live.record.id in self._live and live.record.status == TaskStatus.PENDING.value:
            ending = asyncio.ensure_future(self._end_unstarted(live))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)

    async def _end_unstarted(self, live: LiveTask) -> None:
        outcome = (
            Outcome(TaskStatus.INTERRUPTED, error="the server shut down before the task started", code="interrupted")
            if self._stopping
            else Outcome(TaskStatus.CANCELLED, error="the task was cancelled before it started", code="cancelled")
        )
        try:
            self._remember(await self._finish(live, outcome))
        finally:
            self._live.pop(live.record.id, None)
    async def _launch_instance(self, live: LiveTask) -> None:
        """Hands an instance task to the host framework (Reflex), which calls
        `run_instance` from the event it runs on the client's state."""
        try:
            if self.instance_launcher is None:
                raise RuntimeError("no Reflex app is attached to run instance tasks")
            await self.instance_launcher(live)
        except Exception as exc:
            log.exception("could not launch instance task %s", live.record.id)
            self._remember(await self._finish(live, Outcome(TaskStatus.ERROR, error=f"could not start the task: {exc}", code="launch_failed")))
            self._live.pop(live.record.id, None)

    async def run_instance(self, task_id: str, call: Callable[..., Awaitable[Any]]) -> None:
        """Runs a launched instance task inside the caller's asyncio task (a Reflex
        background event), so cancelling the task cancels that event."""
        live = self._live.get(task_id)
        if live is None or TaskStatus(live.record.status) is not TaskStatus.PENDING:
            log.warning("instance task %s is not waiting to run here; ignoring the event", task_id)
            return
        live.handle = asyncio.current_task()
        await self._execute(live, call)

    # -- control ------------------------------------------------------------

    def cancel(self, task_id: str) -> bool:
        """Cancels a task running here; its coroutine gets CancelledError at its next await."""
        live = self._live.get(task_id)
        if live is None or live.handle is None or TaskStatus(live.record.status).is_terminal:
            return False
        live.handle.cancel()
        return True

    async def deliver(self, task_id: str, body: Any) -> bool:
        """Puts an intervention message in a running task's inbox (durable, streamed)."""
        live = self._live.get(task_id)
        if live is None or TaskStatus(live.record.status).is_terminal:
            return False
        event = self._next_event(live, EventType.MESSAGE, data=body)
        await self._emit_durable(live, event)
        live.inbox.put_nowait(body)
        return True

    async def receive(self, live: LiveTask, timeout: float | None) -> Any:
        try:
            return await asyncio.wait_for(live.inbox.get(), timeout)
        except TimeoutError:
            return None

    async def artifact(self, live: LiveTask, label: str, content: bytes, mime: str) -> dict[str, Any]:
        if len(content) > self.settings.max_artifact_bytes:
            raise ValueError(f"artifact {label!r} is {len(content)} bytes, over the {self.settings.max_artifact_bytes} byte limit")
        folder = artifact_dir(self.settings, live.record.id)
        name = _unique_name(folder, safe_filename(label))
        await asyncio.to_thread(_write_file, folder / name, content)
        info = {
            "name": name,
            "label": label,
            "mime": mime,
            "size": len(content),
            "url": f"/api/tasks/{live.record.id}/artifacts/{name}",
        }
        await self._emit_durable(live, self._next_event(live, EventType.ARTIFACT, data=info))
        return info

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

    async def _execute(self, live: LiveTask, call: Callable[..., Awaitable[Any]]) -> None:
        record = live.record
        record.started_at = utcnow()
        await self.update(live, status=TaskStatus.STARTING)
        try:
            outcome = await self._call(live, call)
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
            self._remember(await self._finish(live, outcome))
        except Exception:
            log.exception("could not record the end of task %s", record.id)
        finally:
            self._live.pop(record.id, None)

    def _remember(self, snap: TaskSnapshot) -> None:
        self._finished[snap.task_id] = snap
        while len(self._finished) > self.settings.finished_cache_size:
            self._finished.popitem(last=False)

    def forget(self, task_id: str) -> None:
        """Drop a cached terminal snapshot (its record was deleted)."""
        self._finished.pop(task_id, None)

    async def _call(self, live: LiveTask, call: Callable[..., Awaitable[Any]]) -> Outcome:
        spec = live.spec
        ctx = TaskContext(self, live)
        call_args: list[Any] = [ctx] if live.args is None else [ctx, live.args]
        timeout = spec.options.timeout
        if timeout is None:
            value = await call(*call_args)
        else:
            warn_before = spec.options.warn_before or timeout / 5
            warner = asyncio.get_running_loop().call_later(
                max(timeout - warn_before, 0), lambda: asyncio.ensure_future(self._warn_timeout(live, warn_before))
            )
            try:
                async with asyncio.timeout(timeout):
                    value = await call(*call_args)
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
        return TaskEvent.model_construct(  # the runner's own values: no re-validation on the hot path
            id=record.last_event_id, task_id=record.id, type=type_, timestamp=now, snapshot=snapshot,
            level=fields.get("level"), message=fields.get("message"), hint=fields.get("hint"), data=fields.get("data"),
        )

    async def update(
        self,
        live: LiveTask,
        progress: float | None = None,
        status: TaskStatus | None = None,
        message: str | None = None,
    ) -> None:
        record = live.record
        if progress is not None:
            record.progress = float(progress)
        if status is not None:
            record.status = status.value
        if message is not None:
            record.message = message
        event = self._next_event(live, EventType.STATUS)
        self.store.set_progress(record.id, _row_state(record))
        await self.bus.publish(event, *topics(record))

    async def log(self, live: LiveTask, message: str, level: LogLevel) -> None:
        event = self._next_event(live, EventType.LOG, level=level, message=message)
        await self._emit_durable(live, event)
        self.store.set_progress(live.record.id, _row_state(live.record))

    async def _emit_durable(self, live: LiveTask, event: TaskEvent) -> None:
        """Publish at once; commit in the background. The terminal write waits for it
        (the writer is FIFO), so nothing durable is lost once a task has ended."""
        live.pending.append(event)
        written = self.store.append_events([event])
        written.add_done_callback(lambda fut: self._committed(live, event, fut))
        await self.bus.publish(event, *topics(live.record))

    @staticmethod
    def _committed(live: LiveTask, event: TaskEvent, fut: asyncio.Future[None]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            log.error("event %s of task %s was not stored", event.id, event.task_id)
        if event in live.pending:
            live.pending.remove(event)

    async def _finish(self, live: LiveTask, outcome: Outcome) -> TaskSnapshot:
        record = live.record
        now = utcnow()
        record.status = outcome.status.value
        self._count(live.spec, -1)
        record.result = outcome.result
        record.error = outcome.error
        record.error_code = outcome.code
        record.finished_at = now
        retention = live.spec.options.retention or self.settings.retention_seconds
        record.purge_after = now + timedelta(seconds=retention)
        if outcome.error is not None:
            record.message = outcome.error
        if outcome.status is TaskStatus.COMPLETED:
            event = self._next_event(live, EventType.RESULT)
        else:
            event = self._next_event(live, EventType.ERROR, message=outcome.error, hint=outcome.hint)
        # Committed before it is published: whoever hears of the end finds it in the store.
        await self.store.update_task(record.id, _row_state(record), [event])
        await self.bus.publish(event, *topics(record))
        return cast(TaskSnapshot, event.snapshot)  # result/error events always carry one
