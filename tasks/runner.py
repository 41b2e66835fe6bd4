"""The runner: starts task coroutines on this worker's event loop, tracks them
while they run, and records how each one ends. It is the only writer of a
task's events, so their ids increase per task; the outbox publishes them in
that order, each durable one after its commit.

A task's end is committed before anyone can see it: until the terminal row and
event are in the store, readers here still see the task running, so whoever
sees a terminal status (on any worker) also finds its terminal event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from tasks.artifacts import ArtifactInfo, artifact_url, check_media_type, safe_filename, unique_name
from tasks.bus import Bus
from tasks.context import TaskContext
from tasks.errors import UnknownTaskId
from tasks.events import EventType, TaskEvent, TaskSnapshot, utcnow
from tasks.idempotency import args_fingerprint
from tasks.ids import EventClock, new_task_id
from tasks.jsondata import UnsafeJson, check_json
from tasks.limits import Limits
from tasks.live import LiveTask, Outcome, TaskEnded
from tasks.outbox import Outbox
from tasks.registry import TaskSpec
from tasks.results import ResultNotSerializable, json_result
from tasks.retention import purge_after
from tasks.retries import RETRYABLE_CODE, retry_delay, should_retry
from tasks.rows import PlainRecord, row_state, search_text, searchable_json
from tasks.settings import Settings
from tasks.status import LogLevel, TaskStatus
from tasks.store import Store
from tasks.text import clean_text
from tasks.workers import topics

log = logging.getLogger("spyglass.runner")


class Runner:
    def __init__(self, store: Store, bus: Bus, settings: Settings, limits: Limits, clock: EventClock) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.limits = limits
        self.clock = clock
        self.worker_id = bus.worker_id
        self._live: dict[str, LiveTask] = {}
        self._endings: set[asyncio.Future[Any]] = set()
        # Terminal snapshots of tasks this worker ran: they never change, and
        # "start, then wait for the result" is the commonest read.
        self._finished: OrderedDict[str, TaskSnapshot] = OrderedDict()
        self._stopping = False
        # Set by the Reflex side: starts an instance task as a background event.
        self.instance_launcher: Callable[[LiveTask], Awaitable[None]] | None = None

    # -- lifecycle ----------------------------------------------------------

    async def stop(self) -> None:
        """Graceful shutdown: running tasks end as Interrupted, recorded before we exit."""
        self._stopping = True
        handles = [live.handle for live in self._live.values() if live.handle is not None]
        for handle in handles:
            handle.cancel()
        await asyncio.gather(*handles, return_exceptions=True)
        await asyncio.gather(*self._endings, return_exceptions=True)

    def abandon_all(self) -> int:
        """The other workers declared this one dead and ended its tasks Interrupted:
        stop them without recording anything more."""
        abandoned = list(self._live.values())
        for live in abandoned:
            end_under_way = live.ended  # its end is being written: `_end` releases its slot
            live.ended = True
            if live.force_timer is not None:
                live.force_timer.cancel()
            if live.handle is not None:
                live.handle.cancel()
            if live.processes is not None:
                live.processes.kill_all()
            self._live.pop(live.record.id, None)
            live.ended_with(None)
            if not end_under_way:
                self._background(self.limits.release(live.spec, live.record.id))
        return len(abandoned)

    def running(self) -> list[LiveTask]:
        return list(self._live.values())

    async def remove(self, task_ids: list[str]) -> None:
        """Deletes finished tasks' rows, events and artifacts."""
        await self.store.delete_tasks(task_ids)
        for task_id in task_ids:
            self.forget(task_id)

    def forget(self, task_id: str) -> None:
        """Drop a cached terminal snapshot (its record was deleted or changed elsewhere)."""
        self._finished.pop(task_id, None)

    # -- reads --------------------------------------------------------------

    def live(self, task_id: str) -> LiveTask | None:
        return self._live.get(task_id)

    def ending(self, task_id: str) -> asyncio.Future[TaskSnapshot | None] | None:
        """For a task running here: resolves once its end is committed, with its
        terminal snapshot, or None if its end was not recorded here (whoever records
        it publishes it on the bus). An embedded long-poll awaits this instead of
        hearing every event on the bus."""
        live = self._live.get(task_id)
        if live is None:
            return None
        if live.ending is None:
            live.ending = asyncio.get_running_loop().create_future()
        return live.ending

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

    def unpublished_events(self, task_id: str) -> list[TaskEvent]:
        """Durable events of a task running here that are not published yet."""
        live = self._live.get(task_id)
        return live.outbox.unpublished() if live is not None else []

    # -- start --------------------------------------------------------------

    async def launch(
        self,
        spec: TaskSpec,
        args: BaseModel | None,
        client: str | None = None,
        idempotency_key: str | None = None,
        retry_of: str | None = None,
    ) -> TaskSnapshot:
        """Take a slot, commit the record, then start: a 202 means the task is durable."""
        task_id = new_task_id()
        await self.limits.acquire(spec, task_id)
        now = utcnow()
        record = PlainRecord(
            id=task_id,
            state=spec.state,
            task=spec.name,
            args=args.model_dump(mode="json") if args is not None else None,
            client=client,
            idempotency_key=idempotency_key,
            args_hash=args_fingerprint(spec, args) if idempotency_key else None,
            worker_id=self.worker_id,
            last_event_id=self.clock.next(),
            created_at=now,
            updated_at=now,
            retry_of=retry_of,
        )
        args_json = searchable_json(record.args) if record.args is not None else ""
        where = topics(record)
        live = LiveTask(
            record=record,
            spec=spec,
            args=args,
            outbox=Outbox(lambda event: self.bus.publish(event, where)),
            topics=where,
            args_json=args_json,
        )
        record.search_text = search_text(record, args_json)
        self._live[task_id] = live
        written = self.store.insert_task(record.row())
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
        self._background(self.limits.release(live.spec, live.record.id))

    def _background(self, coro: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(coro)
        self._endings.add(future)
        future.add_done_callback(self._endings.discard)

    def _spawn(self, live: LiveTask) -> None:
        if live.record.cancel_requested_at is not None:
            self._background(self._end(live, self._not_started_outcome()))
            return
        name = f"spyglass-task-{live.spec.state}.{live.spec.name}"
        if live.spec.is_static:
            live.handle = asyncio.create_task(self._execute(live, live.spec.fn), name=name)
        else:
            live.handle = asyncio.create_task(self._launch_instance(live), name=name)
        live.handle.add_done_callback(lambda handle: self._ensure_ended(live, handle))

    def _ensure_ended(self, live: LiveTask, handle: asyncio.Task[None]) -> None:
        """A task cancelled before its coroutine ran never reaches `_execute`'s
        handlers: record its end here."""
        if handle.cancelled() and not live.ended and live.record.status == TaskStatus.PENDING.value:
            self._background(self._end(live, self._not_started_outcome()))

    def _not_started_outcome(self) -> Outcome:
        if self._stopping:
            return Outcome(
                TaskStatus.INTERRUPTED, error="the server shut down before the task started", code="interrupted"
            )
        return Outcome(TaskStatus.CANCELLED, error="the task was cancelled before it started", code="cancelled")

    async def _launch_instance(self, live: LiveTask) -> None:
        """Hands an instance task to the host framework (Reflex), which calls
        `run_instance` from the event it runs on the client's state."""
        try:
            if self.instance_launcher is None:
                raise RuntimeError("no Reflex app is attached to run instance tasks")
            await self.instance_launcher(live)
        except Exception as exc:
            log.exception("could not launch instance task %s", live.record.id)
            outcome = Outcome(TaskStatus.ERROR, error=f"could not start the task: {exc}", code="launch_failed")
            await self._end(live, outcome)

    async def run_instance(self, task_id: str, call: Callable[..., Awaitable[Any]]) -> None:
        """Runs a launched instance task inside the caller's asyncio task (a Reflex
        background event), so cancelling the task cancels that event."""
        live = self._live.get(task_id)
        if live is None or TaskStatus(live.record.status) is not TaskStatus.PENDING or live.ended:
            log.warning("instance task %s is not waiting to run here; ignoring the event", task_id)
            return
        live.handle = asyncio.current_task()
        await self._execute(live, call)

    # -- control ------------------------------------------------------------

    def cancel(self, task_id: str) -> bool:
        """Cancels a task running here: its coroutine gets CancelledError at its next
        await. One that ignores it is ended Cancelled after the grace period."""
        live = self._live.get(task_id)
        if live is None or live.ended:
            return False
        if live.record.cancel_requested_at is None:
            live.record.cancel_requested_at = utcnow()
            self._tick(live)
            grace = self.settings.cancel_grace_seconds
            live.force_timer = asyncio.get_running_loop().call_later(grace, self._force_cancel, live)
        if live.handle is None:
            return True  # still being written: `_spawn` sees the request and does not start it
        if live.handle.done() and live.record.status == TaskStatus.PENDING.value:
            # An instance task handed to Reflex whose event has not started yet.
            self._background(self._end(live, self._not_started_outcome()))
            return True
        live.handle.cancel()
        return True

    def _force_cancel(self, live: LiveTask) -> None:
        if live.ended or self._live.get(live.record.id) is not live:
            return
        log.warning("task %s ignored its cancellation; ending it Cancelled", live.record.id)
        if live.processes is not None:
            live.processes.kill_all()
        outcome = Outcome(
            TaskStatus.CANCELLED,
            error=f"the task did not stop within {self.settings.cancel_grace_seconds:g} s of its cancellation",
            code="cancel_forced",
        )
        self._background(self._end(live, outcome))

    async def deliver(self, task_id: str, body: Any) -> bool:
        """Puts an intervention message in a running task's inbox (durable, streamed)."""
        live = self._live.get(task_id)
        if live is None or live.ended:
            return False
        self._durable(live, self._next_event(live, EventType.MESSAGE, data=body))
        live.inbox.put_nowait(body)
        return True

    async def receive(self, live: LiveTask, timeout: float | None) -> Any:
        self._check_running(live)
        if timeout is not None and timeout <= 0:  # a poll: what is waiting, or None at once
            try:
                return live.inbox.get_nowait()
            except asyncio.QueueEmpty:
                return None
        try:
            return await asyncio.wait_for(live.inbox.get(), timeout)
        except TimeoutError:
            return None

    # -- what a running task reports ------------------------------------------

    def _check_running(self, live: LiveTask) -> None:
        if live.ended:
            raise TaskEnded("this task has ended; it can no longer report")

    async def update(
        self,
        live: LiveTask,
        progress: float | None = None,
        status: TaskStatus | None = None,
        message: str | None = None,
    ) -> None:
        self._check_running(live)
        record = live.record
        if progress is not None:
            record.progress = float(progress)
        if status is not None:
            record.status = status.value
        else:
            self._mark_processing(live)
        if message is not None:
            record.message = clean_text(message)
        self._tick(live)

    def _tick(self, live: LiveTask) -> None:
        """A status event: pushed at once to whoever listens, written coalesced."""
        # Made as well when events wait in the outbox: a watcher that heard one of
        # them (and left) must not be shown it last when it resumes.
        if live.outbox.holding or self.bus.heard(live.topics):
            live.outbox.put(self._next_event(live, EventType.STATUS))
        else:
            live.record.updated_at = utcnow()
        self.store.set_progress(live.record.id, live.row_state)

    async def log(self, live: LiveTask, message: str, level: LogLevel) -> None:
        self._check_running(live)
        self._durable(live, self._next_event(live, EventType.LOG, level=level, message=clean_text(message)))

    async def emit(self, live: LiveTask, name: str, data: Any) -> int:
        self._check_running(live)
        try:
            check_json(data, f"the data of event {name!r}")
        except UnsafeJson as exc:
            raise ValueError(str(exc)) from None
        event = self._next_event(live, name, data=data)
        self._durable(live, event)
        return event.id

    async def artifact(self, live: LiveTask, label: str, content: bytes, mime: str) -> dict[str, Any]:
        self._check_running(live)
        label = clean_text(label)
        check_media_type(mime)
        if len(content) > self.settings.max_artifact_bytes:
            raise ValueError(
                f"artifact {label!r} is {len(content)} bytes, over the {self.settings.max_artifact_bytes} byte limit"
            )
        name = unique_name(live.artifacts, safe_filename(label))
        live.artifacts.add(name)
        try:
            await self.store.put_artifact(live.record.id, name, label, mime, content)
        except Exception as exc:
            # A driver's message quotes the statement and its parameters, the file's
            # bytes among them: the task's error (which its client reads) gets a plain one.
            # The name stays taken: a write lost in an outage may have been committed
            # unacknowledged, and the store takes a row already there for its retry's.
            log.error("artifact %r of task %s was not stored: %s", name, live.record.id, getattr(exc, "orig", exc))
            raise RuntimeError(f"artifact {label!r} could not be stored") from None
        info = ArtifactInfo(
            name=name, label=label, mime=mime, size=len(content), url=artifact_url(live.record.id, name)
        )
        self._durable(live, self._next_event(live, EventType.ARTIFACT, data=info.model_dump()))
        return info.model_dump()

    def _mark_processing(self, live: LiveTask) -> None:
        """A task that reports anything is running, whether or not it says so."""
        if live.record.status == TaskStatus.STARTING.value:
            live.record.status = TaskStatus.PROCESSING.value

    def _durable(self, live: LiveTask, event: TaskEvent) -> None:
        """Committed in the next group commit, published right after it."""
        if event.type != EventType.MESSAGE:
            self._mark_processing(live)
        live.outbox.put(event, self.store.append_events([event]))
        self.store.set_progress(live.record.id, live.row_state)

    def _next_event(self, live: LiveTask, type_: str, **fields: Any) -> TaskEvent:
        now = utcnow()
        record = live.record
        record.last_event_id = self.clock.next(floor=record.last_event_id)
        record.updated_at = now
        carries_snapshot = type_ in (EventType.STATUS, EventType.RESULT, EventType.ERROR)
        return TaskEvent.made(
            id=record.last_event_id,
            task_id=record.id,
            type=type_,
            timestamp=now,
            snapshot=TaskSnapshot.of(record) if carries_snapshot else None,
            level=fields.get("level"),
            message=fields.get("message"),
            hint=fields.get("hint"),
            data=fields.get("data"),
        )

    # -- running ------------------------------------------------------------

    async def _execute(self, live: LiveTask, call: Callable[..., Awaitable[Any]]) -> None:
        record = live.record
        record.started_at = utcnow()
        await self.update(live, status=TaskStatus.STARTING)
        retries = live.spec.options.retries
        while True:
            outcome = await self._attempt(live, call)
            if live.ended or not should_retry(outcome, record.attempt, retries):
                break
            if not await self._wait_to_retry(live, outcome):
                outcome = self._stopped_outcome()
                break
        if not live.ended:
            await self._end(live, outcome)

    async def _attempt(self, live: LiveTask, call: Callable[..., Awaitable[Any]]) -> Outcome:
        record = live.record
        try:
            return await self._call(live, call)
        except asyncio.CancelledError:
            return self._stopped_outcome()
        except Exception as exc:
            log.exception("task %s.%s (%s) raised", record.state, record.task, record.id)
            return Outcome(TaskStatus.ERROR, error=clean_text(str(exc) or type(exc).__name__), code=RETRYABLE_CODE)
        finally:
            if live.processes is not None:
                await live.processes.stop_all()

    def _stopped_outcome(self) -> Outcome:
        if self._stopping:
            return Outcome(
                TaskStatus.INTERRUPTED,
                error="the server shut down while the task was running",
                code="interrupted",
                hint="start the task again",
            )
        return Outcome(TaskStatus.CANCELLED, error="the task was cancelled", code="cancelled")

    async def _wait_to_retry(self, live: LiveTask, failed: Outcome) -> bool:
        """Logs the failed attempt, waits the backoff, starts the next; False if
        the task was cancelled (or the server stopped) meanwhile."""
        record = live.record
        total = live.spec.options.retries + 1
        delay = retry_delay(live.spec.options.retry_backoff, record.attempt)
        await self.log(live, f"attempt {record.attempt} of {total} failed: {failed.error}", LogLevel.ERROR)
        await self.update(live, message=f"retrying in {delay:.1f} s (attempt {record.attempt} of {total} failed)")
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return False
        record.attempt += 1
        await self.update(live, status=TaskStatus.PROCESSING, message=f"attempt {record.attempt} of {total}")
        return True

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
                max(timeout - warn_before, 0), lambda: self._background(self._warn_timeout(live, warn_before))
            )
            try:
                async with asyncio.timeout(timeout):
                    value = await call(*call_args)
            except TimeoutError:
                message = f"the task ran past its {timeout:g} s timeout"
                await self.log(live, f"timed out: {message}", LogLevel.ERROR)
                return Outcome(
                    TaskStatus.ERROR, error=message, code="timeout", hint="raise the task's timeout or make it faster"
                )
            finally:
                warner.cancel()
        try:
            return Outcome(TaskStatus.COMPLETED, result=json_result(value))
        except ResultNotSerializable as exc:
            return Outcome(
                TaskStatus.ERROR,
                error=str(exc),
                code="result_not_serializable",
                hint="return JSON data: str, number, bool, None, list, dict or a pydantic model",
            )

    async def _warn_timeout(self, live: LiveTask, remaining: float) -> None:
        if not live.ended and self._live.get(live.record.id) is live:
            await self.log(live, f"the task will be stopped in {remaining:g} s (timeout)", LogLevel.WARNING)

    # -- ending -------------------------------------------------------------

    async def _end(self, live: LiveTask, outcome: Outcome) -> None:
        """Records the end once: commit (this worker's readers see the end from
        then on) and free the task's slot, then publish. Once written, the end
        stands even if whoever ends the task is cancelled before it is committed
        (a shutdown cancelling a task whose end is being written): it is still
        published after its commit, and its long-polls and the finished cache
        still learn of it."""
        if live.ended:
            return
        live.ended = True
        if live.force_timer is not None:
            live.force_timer.cancel()
        try:
            recorded = self._finish(live, outcome)
        except Exception:
            log.exception("could not record the end of task %s", live.record.id)
            self._live.pop(live.record.id, None)
            live.ended_with(None)
            await self.limits.release(live.spec, live.record.id)
            return
        with contextlib.suppress(Exception):  # logged by `_recorded`
            await asyncio.shield(recorded)

    async def _recorded(self, live: LiveTask, written: asyncio.Future[None]) -> None:
        """The end's commit and its slot's release, both done before the end is
        published: whoever hears of it may start the next task at once. (This
        worker's own readers and long-polls see the end as soon as it is
        committed: `_written`.)"""
        await self.limits.release(live.spec, live.record.id)  # while the commit is under way
        try:
            await written
        except Exception:
            log.exception("could not record the end of task %s", live.record.id)
            raise

    def _written(
        self, live: LiveTask, final: PlainRecord, snapshot: TaskSnapshot, written: asyncio.Future[None]
    ) -> None:
        """The end is committed, or failed to be: the live task goes and its
        long-polls are answered (with None if the write failed: they read the store)."""
        self._live.pop(live.record.id, None)
        if written.cancelled() or written.exception() is not None:
            live.ended_with(None)
            return
        live.record = final
        self._remember(snapshot)
        live.ended_with(snapshot)

    def _remember(self, snap: TaskSnapshot) -> None:
        self._finished[snap.task_id] = snap
        while len(self._finished) > self.settings.finished_cache_size:
            self._finished.popitem(last=False)

    def _finish(self, live: LiveTask, outcome: Outcome) -> asyncio.Future[None]:
        """Writes the end; the returned future resolves once it is committed and
        the slot freed. The terminal values are prepared on a copy: readers keep
        seeing the task running until the commit."""
        now = utcnow()
        final = live.record.copy()
        final.status = outcome.status.value
        final.result = outcome.result
        final.error = outcome.error
        final.error_code = outcome.code
        final.finished_at = final.updated_at = now
        if final.started_at is not None:
            final.duration_seconds = (now - final.started_at).total_seconds()
        final.purge_after = purge_after(live.spec, self.settings.retention_seconds, now)
        if outcome.error is not None:
            final.message = outcome.error
        final.last_event_id = self.clock.next(floor=final.last_event_id)
        snapshot = TaskSnapshot.of(final)
        event = TaskEvent.made(
            id=final.last_event_id,
            task_id=final.id,
            type=EventType.RESULT if outcome.status is TaskStatus.COMPLETED else EventType.ERROR,
            timestamp=now,
            snapshot=snapshot,
            level=None,
            message=None if outcome.status is TaskStatus.COMPLETED else outcome.error,
            hint=outcome.hint,
            data=None,
        )
        written = self.store.update_task(final.id, row_state(final, live.args_json), [event])
        written.add_done_callback(functools.partial(self._written, live, final, snapshot))
        recorded = asyncio.ensure_future(self._recorded(live, written))
        live.outbox.put(event, recorded)
        self._endings.add(recorded)  # a shutdown waits for it
        recorded.add_done_callback(self._endings.discard)
        return recorded
