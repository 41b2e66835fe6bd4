"""The engine: one per process, wiring registry, store, bus, limits and runner.

Everything a route or a Reflex state needs goes through here, so the dashboard
and HTTP clients read the same API. With a Redis URL (SPYGLASS_REDIS_URL or
REFLEX_REDIS_URL) the bus, the commands and the limits span every worker and
host; without one, everything stays in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from tasks.access import ANONYMOUS, Access
from tasks.admins import Admins, is_session_token
from tasks.artifacts import artifact_url
from tasks.auth import Auth, Client, install_log_redaction
from tasks.bus import Bus, Command, InMemoryBus, Reply, task_topic
from tasks.errors import (
    Conflict,
    EngineNotReady,
    InvalidRequest,
    NotFound,
    TokenRequired,
    Unauthorized,
    UnknownTaskId,
)
from tasks.events import TaskEvent, TaskInspection, TaskSnapshot, utcnow
from tasks.idempotency import IdempotentStarts, scoped_key
from tasks.ids import EventClock, new_task_id
from tasks.limits import Limits, LocalLimits, RedisLimits
from tasks.live import LiveTask
from tasks.queries import Bucket, TaskQuery, TaskStats
from tasks.registry import Registry, TaskSpec
from tasks.retention import purge_expired
from tasks.runner import Runner
from tasks.settings import Settings, get_settings
from tasks.status import TaskStatus
from tasks.store import Store
from tasks.workers import WorkerMonitor

log = logging.getLogger("spyglass.engine")

CANCEL_ANSWER_SECONDS = 2.0  # how long a cancel waits for the task to end before answering 202
LINK_SECRET_KEY = "reflex_link_secret"


def token_required(what: str) -> TokenRequired:
    return TokenRequired(
        f"{what} needs a client token",
        hint="tokenless tasks are read by id only; send Authorization: Bearer <token> to see a client's tasks",
    )


def instance_task_needs_token(spec: TaskSpec) -> Unauthorized:
    return Unauthorized(
        f"task {spec.name!r} runs on a client's state and needs a client token",
        hint=f"POST /api/{spec.state}/tasks/<client_token>/start/{spec.name}",
    )


def merge_events(stored: list[TaskEvent], pending: list[TaskEvent], after: int) -> list[TaskEvent]:
    """Committed and being-committed events after an id, each once, in id order."""
    merged = {(e.task_id, e.id): e for e in [*stored, *pending] if e.id > after}
    return [merged[key] for key in sorted(merged, key=lambda key: (key[1], key[0]))]


class Engine:
    def __init__(self, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.settings = settings or get_settings()
        self.registry = registry or Registry().discover("states", self.settings.extra_state_modules)
        self._instance_launcher: Callable[[LiveTask], Awaitable[None]] | None = None
        self.started = False
        self.token_generation = 0  # bumped whenever a token is revoked anywhere
        self.link_secret = b""
        self._maintenance: asyncio.Task[None] | None = None
        self._build()

    def _build(self) -> None:
        settings = self.settings
        worker_id = new_task_id()
        self.clock = EventClock()
        self.store = Store(
            settings.async_database_url,
            progress_flush_seconds=settings.progress_flush_seconds,
            sqlite_synchronous=settings.sqlite_synchronous,
        )
        self.bus: Bus
        self.limits: Limits
        if settings.redis_url:
            from redis.asyncio import Redis

            from tasks.redis_bus import RedisBus

            redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=3,
                socket_timeout=5,
                client_name=f"spyglass:{settings.redis_prefix}:{worker_id}",
            )
            self.bus = RedisBus(redis, settings.redis_prefix, worker_id)
            self.limits = RedisLimits(
                redis, settings.redis_prefix, settings.max_active_tasks, settings.worker_dead_after_seconds
            )
        else:
            self.bus = InMemoryBus(worker_id)
            self.limits = LocalLimits(settings.max_active_tasks)
        self.runner = Runner(self.store, self.bus, settings, self.limits, self.clock)
        self.runner.instance_launcher = self._instance_launcher
        self.workers = WorkerMonitor(
            self.store,
            self.bus,
            self.clock,
            worker_id,
            settings.worker_dead_after_seconds,
            settings.retention_seconds,
            forget=self.runner.forget,
        )
        self.idempotent = IdempotentStarts(self.store)
        self.auth = Auth(self.store)
        self.admins = Admins(self.store, settings.admin_session_hours)

    @property
    def worker_id(self) -> str:
        return self.bus.worker_id

    @property
    def instance_launcher(self) -> Callable[[LiveTask], Awaitable[None]] | None:
        """Set by the Reflex app: how instance tasks become background events."""
        return self._instance_launcher

    @instance_launcher.setter
    def instance_launcher(self, launcher: Callable[[LiveTask], Awaitable[None]] | None) -> None:
        self._instance_launcher = launcher
        self.runner.instance_launcher = launcher

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Opens the store named by the current settings (tests swap settings between runs)."""
        self._build()
        install_log_redaction()
        await self.store.start()
        self.link_secret = (await self.store.setting(LINK_SECRET_KEY, secrets.token_hex(32))).encode()
        if self.settings.admin_user and self.settings.admin_password:
            await self.admins.ensure_password(self.settings.admin_user, self.settings.admin_password)
        await self.bus.start()
        self.bus.on_command(self._on_command)
        await self.workers.heartbeat()
        await self.workers.interrupt_orphans()
        self._maintenance = asyncio.create_task(self._maintain(), name="spyglass-maintenance")
        self.started = True

    async def stop(self) -> None:
        self.started = False
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        await self.runner.stop()
        with contextlib.suppress(Exception):
            await self.workers.leave()
        await self.bus.stop()
        await self.store.stop()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _maintain(self) -> None:
        last_purge = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                if not await self.workers.heartbeat():
                    abandoned = self.runner.abandon_all()
                    log.error("this worker was declared dead; dropped its %d task(s), now Interrupted", abandoned)
                await self.limits.renew((live.spec, live.record.id) for live in self.runner.running())
                await self.workers.interrupt_orphans()
                if time.monotonic() - last_purge >= self.settings.purge_interval_seconds:
                    last_purge = time.monotonic()
                    await self.purge_expired()
            except Exception:
                log.exception("worker maintenance failed; retrying at the next heartbeat")

    async def purge_expired(self, batch: int = 500) -> int:
        return await purge_expired(self.store, self.runner.remove, batch)

    def _require_started(self) -> None:
        if not self.started:
            raise EngineNotReady("the task engine is starting or stopping", hint="retry in a moment")

    # -- who asks ---------------------------------------------------------------

    async def authenticate(self, token: str | None) -> Client:
        self._require_started()
        return await self.auth.authenticate(token)

    async def access_for(self, token: str | None, state: str | None = None) -> Access:
        """What a Bearer token may see: an admin session everything, a client token
        its own tasks, no token (unless SPYGLASS_REQUIRE_TOKEN) tokenless tasks by id."""
        self._require_started()
        if token is None:
            if self.settings.require_token:
                raise Unauthorized("a client token is required", hint="Authorization: Bearer <token>")
            return Access(state=state)
        if is_session_token(token):
            await self.admins.authenticate(token)
            return Access(state=state, admin=True)
        client = await self.auth.authenticate(token)
        return Access(state=state, client=client.name)

    def client_state_token(self, client: str) -> str:
        """The Reflex token of a client's shared state: derived from a secret every
        worker shares, so no browser can claim it by guessing."""
        digest = hmac.new(self.link_secret, client.encode(), hashlib.sha256).hexdigest()[:40]
        return f"spyglass-client-{digest}"

    def signed_artifact_url(self, task_id: str, name: str, ttl_seconds: int = 3600) -> str:
        """A download link for the dashboard: a browser cannot add a Bearer header to
        a link, so an admin's page hands out a link signed for this file, for a while."""
        expires = int(time.time()) + ttl_seconds
        return f"{artifact_url(task_id, name)}?exp={expires}&sig={self._artifact_signature(task_id, name, expires)}"

    def artifact_signature_valid(self, task_id: str, name: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self._artifact_signature(task_id, name, int(expires)), signature)

    def _artifact_signature(self, task_id: str, name: str, expires: int) -> str:
        message = f"artifact\x00{task_id}\x00{name}\x00{expires}".encode()
        return hmac.new(self.link_secret, message, hashlib.sha256).hexdigest()[:40]

    async def revoke_tokens(self, client_or_token_id: str) -> int:
        """Revokes, then tells every worker, so open streams close at once."""
        count = await self.auth.revoke(client_or_token_id)
        await self.bus.broadcast(Command(kind="revoked", body=client_or_token_id))
        return count

    # -- start ----------------------------------------------------------------

    def parse_args(self, state: str, task: str, body: Any) -> tuple[TaskSpec, BaseModel | None]:
        spec = self.registry.get(state, task)
        return spec, spec.parse_args(body)

    async def start_task(
        self, spec: TaskSpec, args: BaseModel | None, client: str | None = None, idempotency_key: str | None = None
    ) -> TaskSnapshot:
        """The one start path: direct and token routes, CLI and dashboard all call it."""
        return (await self.submit(spec, args, client, idempotency_key))[0]

    async def submit(
        self,
        spec: TaskSpec,
        args: BaseModel | None,
        client: str | None = None,
        idempotency_key: str | None = None,
        retry_of: str | None = None,
    ) -> tuple[TaskSnapshot, bool]:
        """Starts a task; returns (snapshot, created). With an idempotency key, a repeat
        by the same client with the same task and args returns the first task."""
        self._require_started()
        if not spec.is_static and client is None:
            raise instance_task_needs_token(spec)
        if idempotency_key is None:
            return await self.runner.launch(spec, args, client=client, retry_of=retry_of), True
        key = scoped_key(client, idempotency_key)
        return await self.idempotent.start_once(
            spec,
            args,
            key,
            launch=lambda: self.runner.launch(spec, args, client=client, idempotency_key=key),
            snapshot=self.runner.snapshot,
        )

    async def rerun(self, task_id: str, access: Access = ANONYMOUS) -> TaskSnapshot:
        """A new run of an ended task: same state, task, arguments and client."""
        snap = await self.snapshot(task_id, access)
        if not snap.is_terminal:
            raise Conflict(f"task {task_id!r} is still running ({snap.status})", hint="re-run it once it has ended")
        record = await self.store.get_task(task_id)
        if record is None:
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        spec = self.registry.get(record.state, record.task)
        args = spec.parse_args(record.args) if spec.args_model is not None else None
        return (await self.submit(spec, args, record.client, retry_of=task_id))[0]

    # -- reads ------------------------------------------------------------------

    async def snapshot(self, task_id: str, access: Access = ANONYMOUS) -> TaskSnapshot:
        self._require_started()
        snap = await self.runner.snapshot(task_id)
        if not access.allows(snap):
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        return snap

    async def inspect(self, task_id: str, access: Access = ANONYMOUS) -> TaskInspection:
        """A task with its arguments, worker and durable events, if the caller may see it."""
        snap = await self.snapshot(task_id, access)
        events = await self.durable_events(task_id)
        record = await self.store.get_task(task_id)
        return TaskInspection(
            snapshot=snap,
            args=record.args if record else None,
            worker_id=record.worker_id if record else None,
            events=events,
        )

    async def newest_logs(self, task_ids: list[str], limit: int) -> dict[str, list[TaskEvent]]:
        """The newest `limit` log events of each task, oldest first (callers checked access)."""
        return await self.store.newest_logs(task_ids, limit)

    async def readiness(self) -> dict[str, str]:
        """ "ok" or why not, for the store and the bus."""
        results: dict[str, str] = {}
        for name, check in (("store", self.store.ping), ("bus", self.bus.ping)):
            try:
                if not self.started:
                    raise RuntimeError("engine not started")
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {exc}"
        return results

    async def list_tasks(self, query: TaskQuery) -> list[TaskSnapshot]:
        self._require_started()
        snaps = []
        for record in await self.store.list_tasks(query):
            live = self.runner.live(record.id)
            snaps.append(TaskSnapshot.of(live.record if live is not None else record))
        return snaps

    async def count_tasks(self, query: TaskQuery) -> int:
        self._require_started()
        return await self.store.count_tasks(query)

    async def task_stats(
        self, query: TaskQuery, since: datetime | None = None, until: datetime | None = None
    ) -> TaskStats:
        """Charts over the whole store for the tasks `query` selects: per status, per
        minute (ranges up to 3 hours) or hour, and run-time percentiles per task."""
        self._require_started()
        until = until or query.until or utcnow()
        try:
            since = since or query.since or until - timedelta(hours=24)
            until + timedelta(hours=1)  # the last bucket must end in the calendar too
        except OverflowError:
            raise InvalidRequest(
                "the time range is out of bounds", hint="use times between the years 1 and 9999"
            ) from None
        if since >= until:
            raise InvalidRequest("the time range is empty", hint="since must be before until")
        if until - since > timedelta(days=31):
            raise InvalidRequest("the time range is longer than 31 days", hint="narrow it with since and until")
        bucket: Bucket = "minute" if until - since <= timedelta(hours=3) else "hour"
        return await self.store.task_stats(query, since, until, bucket)

    def scoped_query(self, access: Access, **filters: Any) -> TaskQuery:
        """A list query limited to what the caller may see; anonymous callers may not list."""
        if access.anonymous:
            raise token_required("listing tasks")
        if access.admin:
            return TaskQuery(all_clients=True, **filters)
        return TaskQuery(caller_client=access.client, **filters)

    async def events(self, task_id: str, access: Access = ANONYMOUS) -> list[TaskEvent]:
        """A task's durable events so far: logs, messages, artifacts, custom events, its end."""
        await self.snapshot(task_id, access)
        return await self.durable_events(task_id)

    async def durable_events(self, task_id: str, after: int = 0) -> list[TaskEvent]:
        """Durable events after an id: the committed ones, and (for a task running here)
        those being committed. Unpublished ones are read first, so an event committed
        in between is found in one or the other."""
        pending = self.runner.unpublished_events(task_id)
        return merge_events(await self.store.events_after(task_id, after), pending, after)

    async def client_tasks(self, client: str, state: str | None, limit: int = 50) -> list[TaskSnapshot]:
        """A client's tasks (in a state, or all), newest first."""
        return await self.list_tasks(TaskQuery(caller_client=client, state=state, limit=limit))

    async def client_events_after(self, client: str, after: int, state: str | None) -> list[TaskEvent]:
        """Durable events of a client's tasks after an id: the committed ones, and
        those of its tasks running here that are being committed (read first, as in
        `durable_events`, so an event committed in between is in one or the other)."""
        pending = [
            event
            for live in self.runner.running()
            if live.record.client == client and (state is None or live.record.state == state)
            for event in self.runner.unpublished_events(live.record.id)
        ]
        return merge_events(await self.store.client_events_after(client, after, state), pending, after)

    async def wait(self, task_id: str, timeout: float, access: Access = ANONYMOUS) -> TaskSnapshot:
        """Long-poll: the snapshot once terminal, or as it is after `timeout` seconds."""
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal or timeout <= 0:
            return snap  # the common case needs no subscription
        deadline = time.monotonic() + timeout
        # Running here, and only this worker can end it: no bus, no wake-up per tick.
        ending = None if self.bus.shared else self.runner.ending(task_id)
        if ending is not None:
            await asyncio.wait((ending,), timeout=timeout)
            if not ending.done():
                return await self.snapshot(task_id, access)
            if (final := ending.result()) is not None:
                return final  # committed before it resolved, as a terminal event before it is published
            # Dropped here unrecorded (this worker was declared dead): the worker
            # that records its end publishes it.
        async with self.bus.subscribe(task_topic(task_id)) as sub:
            snap = await self.snapshot(task_id, access)  # again: it may have ended before we subscribed
            if snap.is_terminal:
                return snap
            while (remaining := deadline - time.monotonic()) > 0:
                event = await sub.get(timeout=remaining)
                if sub.overflowed:
                    sub.reset_overflow()
                    if (snap := await self.snapshot(task_id, access)).is_terminal:
                        return snap
                    continue
                if event is None:
                    break
                if event.is_terminal:
                    # What a read now would give: an end is committed before it is published.
                    return event.snapshot if event.snapshot is not None else await self.snapshot(task_id, access)
            return await self.snapshot(task_id, access)

    async def artifact(self, task_id: str, name: str, access: Access = ANONYMOUS) -> tuple[bytes, str]:
        """An artifact's bytes and mime type."""
        await self.snapshot(task_id, access)
        row = await self.store.get_artifact(task_id, name)
        if row is None:
            raise NotFound(f"task {task_id!r} has no artifact {name!r}")
        return row.data, row.mime

    # -- control ----------------------------------------------------------------

    async def _command(self, task_id: str, command: Command) -> Reply:
        """Runs a command on the worker that runs the task, wherever that is."""
        if self.runner.live(task_id) is not None:
            return await self._on_command(command)
        record = await self.store.get_task(task_id)
        if record is None or record.worker_id is None or record.worker_id == self.worker_id:
            return Reply(ok=False, detail="the task is not running")
        reply = await self.bus.request(record.worker_id, command)
        if reply is None:
            raise Conflict(
                f"the worker running task {task_id!r} does not answer",
                hint="if it died, the task is marked Interrupted within "
                f"{self.settings.worker_dead_after_seconds + self.settings.heartbeat_seconds:g} s",
            )
        return reply

    async def _on_command(self, command: Command) -> Reply:
        if command.kind == "cancel" and command.task_id is not None:
            return Reply(ok=self.runner.cancel(command.task_id))
        if command.kind == "deliver" and command.task_id is not None:
            return Reply(ok=await self.runner.deliver(command.task_id, command.body))
        if command.kind == "revoked":
            self.token_generation += 1
            self.auth.forget_cached()
            return Reply(ok=True)
        return Reply(ok=False, detail=f"unknown command {command.kind!r}")

    async def cancel(self, task_id: str, access: Access = ANONYMOUS) -> TaskSnapshot:
        """Asks the task to stop and waits briefly: the answer is the task's end
        (Cancelled), or its current snapshot with cancel_requested if it is still
        stopping (it is force-ended after SPYGLASS_CANCEL_GRACE_SECONDS)."""
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal:
            raise Conflict(
                f"task {task_id!r} already ended ({snap.status})", hint="only running tasks can be cancelled"
            )
        reply = await self._command(task_id, Command(kind="cancel", task_id=task_id))
        if not reply.ok:
            snap = await self.snapshot(task_id, access)
            if snap.is_terminal:
                raise Conflict(f"task {task_id!r} already ended ({snap.status})")
            raise Conflict(f"task {task_id!r} could not be cancelled", hint=reply.detail)
        final = await self.wait(task_id, CANCEL_ANSWER_SECONDS, access)
        if not final.is_terminal and not final.cancel_requested:
            final = final.model_copy(update={"cancel_requested": True})
        return final

    async def delete(self, task_id: str, access: Access = ANONYMOUS) -> None:
        """Stops the task if it runs, then removes its record, events and artifacts."""
        snap = await self.snapshot(task_id, access)
        if not snap.is_terminal:
            snap = await self.cancel(task_id, access)
            if not snap.is_terminal:
                snap = await self.wait(task_id, self.settings.cancel_grace_seconds + 2, access)
            if not snap.is_terminal:
                raise Conflict(f"task {task_id!r} is still stopping", hint="retry the delete in a few seconds")
        await self.runner.remove([task_id])

    async def delete_many(self, statuses: tuple[TaskStatus, ...], access: Access) -> int:
        """Deletes the caller's finished tasks in these statuses; returns how many."""
        self._require_started()
        if access.anonymous:
            raise token_required("bulk delete")
        if not statuses:
            raise InvalidRequest("give at least one status", hint="e.g. ?status=Completed,Error")
        running = [s.value for s in statuses if not s.is_terminal]
        if running:
            raise InvalidRequest(
                f"only finished tasks can be bulk-deleted, not {', '.join(running)}",
                hint="cancel running tasks first, or delete them one by one",
            )
        query = self.scoped_query(access, state=access.state, statuses=tuple(s.value for s in statuses), limit=500)
        total = 0
        while batch := await self.store.list_tasks(query):
            await self.runner.remove([record.id for record in batch])
            total += len(batch)
        return total

    async def send_message(self, task_id: str, body: Any, access: Access = ANONYMOUS) -> TaskSnapshot:
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal:
            raise Conflict(f"task {task_id!r} is not running ({snap.status})", hint="messages reach running tasks only")
        reply = await self._command(task_id, Command(kind="deliver", task_id=task_id, body=body))
        if not reply.ok:
            snap = await self.snapshot(task_id, access)
            raise Conflict(f"task {task_id!r} is not running ({snap.status})", hint="messages reach running tasks only")
        return await self.snapshot(task_id, access)

    async def ack(self, task_id: str, access: Access = ANONYMOUS) -> TaskSnapshot:
        """The result was delivered: remove the record."""
        snap = await self.snapshot(task_id, access)
        if not snap.is_terminal:
            raise Conflict(f"task {task_id!r} has not ended yet ({snap.status})", hint="ack a task after its result")
        await self.runner.remove([task_id])
        return snap


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process's engine, created on first use."""
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine
