"""The engine: one per process, wiring registry, store, bus and runner together.

Everything a route or a Reflex state needs goes through here, so the dashboard
and HTTP clients read the same API.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from tasks.admins import Admins, is_session_token
from tasks.auth import Auth, Client, install_log_redaction
from tasks.bus import Bus, InMemoryBus, task_topic
from tasks.errors import Conflict, EngineNotReady, InvalidRequest, NotFound, Unauthorized, UnknownTaskId
from tasks.events import EventType, TaskEvent, TaskSnapshot
from tasks.registry import Registry, TaskSpec
from tasks.runner import LiveTask, Runner, args_fingerprint, artifact_dir, safe_filename
from tasks.settings import Settings, get_settings
from tasks.status import TaskStatus
from tasks.store import Store, TaskQuery


@dataclass(frozen=True)
class Access:
    """Who asks, and through which route: ids of tasks a caller may not see are
    answered exactly like unknown ids (404), so they cannot be probed."""

    state: str | None = None
    client: str | None = None
    owned: bool = False  # token routes: only the client's own tasks
    all_clients: bool = False  # admins

    def allows(self, snap: TaskSnapshot) -> bool:
        if self.state is not None and snap.state != self.state:
            return False
        if self.all_clients:
            return True
        if snap.client is None:
            return not self.owned
        return snap.client == self.client


class Engine:
    def __init__(self, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.settings = settings or get_settings()
        self.registry = registry or Registry().discover("states", self.settings.extra_state_modules)
        self.bus: Bus = InMemoryBus()
        # Set by the Reflex app: how instance tasks become background events.
        self.instance_launcher: Callable[[LiveTask], Awaitable[None]] | None = None
        self.store, self.runner = self._build()
        self.auth = Auth(self.store)
        self._idempotency_lock = asyncio.Lock()
        self.started = False

    def _build(self) -> tuple[Store, Runner]:
        store = Store(
            self.settings.async_database_url,
            progress_flush_seconds=self.settings.progress_flush_seconds,
            sqlite_synchronous=self.settings.sqlite_synchronous,
        )
        runner = Runner(store, self.bus, self.settings)
        runner.instance_launcher = getattr(self, "instance_launcher", None)
        return store, runner

    async def start(self) -> None:
        """Opens the store named by the current settings (tests swap settings between runs)."""
        self.store, self.runner = self._build()
        self.auth = Auth(self.store)
        self.admins = Admins(self.store, self.settings.admin_session_hours)
        install_log_redaction()
        await self.store.start()
        if self.settings.admin_user and self.settings.admin_password:
            await self.admins.set_password(self.settings.admin_user, self.settings.admin_password)
        await self.bus.start()
        await self.runner.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self.runner.stop()
        await self.bus.stop()
        await self.store.stop()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def _require_started(self) -> None:
        if not self.started:
            raise EngineNotReady("the task engine is starting or stopping", hint="retry in a moment")

    def parse_args(self, state: str, task: str, body: Any) -> tuple[TaskSpec, BaseModel | None]:
        spec = self.registry.get(state, task)
        return spec, spec.parse_args(body)

    async def start_task(
        self, spec: TaskSpec, args: BaseModel | None, client: str | None = None, idempotency_key: str | None = None
    ) -> TaskSnapshot:
        """The one start path: direct and token routes, CLI and dashboard all call it."""
        return (await self.submit(spec, args, client, idempotency_key))[0]

    async def submit(
        self, spec: TaskSpec, args: BaseModel | None, client: str | None = None, idempotency_key: str | None = None
    ) -> tuple[TaskSnapshot, bool]:
        """Starts a task; returns (snapshot, created). With an idempotency key, a repeat
        by the same client with the same task and args returns the first task."""
        self._require_started()
        if not spec.is_static and client is None:
            raise Unauthorized(
                f"task {spec.name!r} runs on a client's state and needs a client token",
                hint=f"POST /api/{spec.state}/tasks/<client_token>/start/{spec.name}",
            )
        if idempotency_key is None:
            return await self.runner.launch(spec, args, owner=client), True
        key = f"{client or '-'}:{idempotency_key}"
        async with self._idempotency_lock:  # one worker: no race; several: the unique index decides
            existing = await self.store.find_idempotent(key)
            if existing is None:
                try:
                    return await self.runner.launch(spec, args, owner=client, idempotency_key=key), True
                except IntegrityError:
                    existing = await self.store.find_idempotent(key)
                    if existing is None:
                        raise
            if existing.args_hash != args_fingerprint(spec, args):
                raise Conflict(
                    "this Idempotency-Key was already used for another task or other arguments",
                    hint="use a new key for a different request",
                )
            return await self.runner.snapshot(existing.id), False

    # -- lifecycle ------------------------------------------------------------

    async def list_tasks(self, query: TaskQuery) -> list[TaskSnapshot]:
        self._require_started()
        snaps = []
        for record in await self.store.list_tasks(query):
            live = self.runner.live(record.id)
            snaps.append(TaskSnapshot.of(live.record if live is not None else record))
        return snaps

    async def events(self, task_id: str, access: Access = Access()) -> list[TaskEvent]:
        """A task's durable events so far: logs, messages, artifacts, its end."""
        await self.snapshot(task_id, access)
        return await self.durable_events(task_id)

    async def durable_events(self, task_id: str, after: int = 0) -> list[TaskEvent]:
        """Durable events after an id, committed or not yet: the pending ones are read
        before the store, so an event committed in between is found in one or the other."""
        pending = self.runner.pending_events(task_id)
        stored = await self.store.events_after(task_id, after)
        merged = {e.id: e for e in [*stored, *pending] if e.id > after}
        return [merged[i] for i in sorted(merged)]

    async def cancel(self, task_id: str, access: Access = Access(), wait: float = 5.0) -> TaskSnapshot:
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal:
            raise Conflict(f"task {task_id!r} already ended ({snap.status})", hint="only running tasks can be cancelled")
        if not self.runner.cancel(task_id):
            raise Conflict(f"task {task_id!r} is not running on this server", hint="retry on the worker that runs it")
        return await self.wait(task_id, wait, access)

    async def delete(self, task_id: str, access: Access = Access()) -> None:
        """Cancels the task if it runs, then removes its record, events and artifacts."""
        snap = await self.snapshot(task_id, access)
        if not snap.is_terminal:
            snap = await self.cancel(task_id, access)
        await self.runner.remove([task_id])

    async def delete_many(self, statuses: tuple[TaskStatus, ...], access: Access) -> int:
        """Deletes the caller's finished tasks in these statuses; returns how many."""
        self._require_started()
        if not statuses:
            raise InvalidRequest("give at least one status", hint="e.g. ?status=Completed,Error")
        running = [s.value for s in statuses if not s.is_terminal]
        if running:
            raise InvalidRequest(
                f"only finished tasks can be bulk-deleted, not {', '.join(running)}",
                hint="cancel running tasks first, or delete them one by one",
            )
        query = TaskQuery(owner=access.client, all_owners=access.all_clients, state=access.state, statuses=tuple(s.value for s in statuses), limit=500)
        total = 0
        while batch := await self.store.list_tasks(query):
            await self.runner.remove([record.id for record in batch])
            total += len(batch)
        return total

    async def send_message(self, task_id: str, body: Any, access: Access = Access()) -> TaskSnapshot:
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal or not await self.runner.deliver(task_id, body):
            raise Conflict(f"task {task_id!r} is not running ({snap.status})", hint="messages reach running tasks only")
        return await self.snapshot(task_id, access)

    async def ack(self, task_id: str, access: Access = Access()) -> TaskSnapshot:
        """The result was delivered: remove the record."""
        snap = await self.snapshot(task_id, access)
        if not snap.is_terminal:
            raise Conflict(f"task {task_id!r} has not ended yet ({snap.status})", hint="ack a task after its result")
        await self.runner.remove([task_id])
        return snap

    async def artifact_file(self, task_id: str, name: str, access: Access = Access()) -> tuple[Path, str]:
        """The stored file of an artifact the task announced, and its mime type."""
        for event in await self.events(task_id, access):
            if event.type is EventType.ARTIFACT and isinstance(event.data, dict) and event.data.get("name") == name:
                path = artifact_dir(self.settings, task_id) / safe_filename(name)
                if path.is_file():
                    return path, str(event.data.get("mime") or "application/octet-stream")
        raise NotFound(f"task {task_id!r} has no artifact {name!r}")

    async def authenticate(self, token: str | None) -> Client:
        self._require_started()
        return await self.auth.authenticate(token)

    async def access_for(self, token: str | None, state: str | None = None) -> Access:
        """What a Bearer token may see: an admin session everything, a client token
        its own tasks, no token (unless SPYGLASS_REQUIRE_TOKEN) the ownerless ones."""
        self._require_started()
        if token is None:
            if self.settings.require_token:
                raise Unauthorized("a client token is required", hint="Authorization: Bearer <token>")
            return Access(state=state)
        if is_session_token(token):
            await self.admins.authenticate(token)
            return Access(state=state, all_clients=True)
        client = await self.auth.authenticate(token)
        return Access(state=state, client=client.name)

    async def snapshot(self, task_id: str, access: Access = Access()) -> TaskSnapshot:
        self._require_started()
        snap = await self.runner.snapshot(task_id)
        if not access.allows(snap):
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        return snap

    async def wait(self, task_id: str, timeout: float, access: Access = Access()) -> TaskSnapshot:
        """Long-poll: the snapshot once terminal, or as it is after `timeout` seconds."""
        snap = await self.snapshot(task_id, access)
        if snap.is_terminal or timeout <= 0:
            return snap  # the common case needs no subscription
        async with self.bus.subscribe(task_topic(task_id)) as sub:
            snap = await self.snapshot(task_id, access)  # again: it may have ended before we subscribed
            if snap.is_terminal:
                return snap
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                event = await sub.get(timeout=remaining)
                if event is None or event.is_terminal or sub.overflowed:
                    break
            return await self.snapshot(task_id, access)

    async def client_tasks(self, client: str, state: str | None, limit: int = 50) -> list[TaskSnapshot]:
        """A client's tasks (in a state, or all), newest first."""
        return await self.list_tasks(TaskQuery(owner=client, state=state, limit=limit))


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process's engine, created on first use."""
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine
