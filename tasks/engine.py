"""The engine: one per process, wiring registry, store, bus and runner together.

Everything a route or a Reflex state needs goes through here, so the dashboard
and HTTP clients read the same API.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from tasks.auth import Auth, Client, install_log_redaction
from tasks.bus import Bus, InMemoryBus, task_topic
from tasks.errors import EngineNotReady, Unauthorized, UnknownTaskId
from tasks.events import TaskSnapshot
from tasks.registry import Registry, TaskSpec
from tasks.runner import LiveTask, Runner
from tasks.settings import Settings, get_settings
from tasks.store import Store


@dataclass(frozen=True)
class Access:
    """Who asks, and through which route: ids of tasks a caller may not see are
    answered exactly like unknown ids (404), so they cannot be probed."""

    state: str | None = None
    client: str | None = None
    owned: bool = False  # token routes: only the client's own tasks

    def allows(self, snap: TaskSnapshot) -> bool:
        if self.state is not None and snap.state != self.state:
            return False
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
        install_log_redaction()
        await self.store.start()
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

    async def start_task(self, spec: TaskSpec, args: BaseModel | None, client: str | None = None) -> TaskSnapshot:
        """The one start path: direct and token routes, CLI and dashboard all call it."""
        self._require_started()
        if not spec.is_static and client is None:
            raise Unauthorized(
                f"task {spec.name!r} runs on a client's state and needs a client token",
                hint=f"POST /api/{spec.state}/tasks/<client_token>/start/{spec.name}",
            )
        return await self.runner.launch(spec, args, owner=client)

    async def authenticate(self, token: str | None) -> Client:
        self._require_started()
        return await self.auth.authenticate(token)

    async def snapshot(self, task_id: str, access: Access = Access()) -> TaskSnapshot:
        self._require_started()
        snap = await self.runner.snapshot(task_id)
        if not access.allows(snap):
            raise UnknownTaskId(f"unknown task id {task_id!r}")
        return snap

    async def wait(self, task_id: str, timeout: float, access: Access = Access()) -> TaskSnapshot:
        """Long-poll: the snapshot once terminal, or as it is after `timeout` seconds."""
        async with self.bus.subscribe(task_topic(task_id)) as sub:
            snap = await self.snapshot(task_id, access)
            if snap.is_terminal or timeout <= 0:
                return snap
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                event = await sub.get(timeout=remaining)
                if event is None or event.is_terminal or sub.overflowed:
                    break
            return await self.snapshot(task_id, access)

    async def client_tasks(self, client: str, state: str, limit: int = 50) -> list[TaskSnapshot]:
        """A client's tasks in a state, newest first: the live view where running here."""
        self._require_started()
        records = await self.store.tasks_of(client, state, limit)
        snaps = []
        for record in records:
            live = self.runner.live(record.id)
            snaps.append(TaskSnapshot.of(live.record if live is not None else record))
        return snaps


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process's engine, created on first use."""
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine
