"""`WorkersState`: every backend worker of every host, as `GET /api/admin/workers`
shows them, refreshed every two seconds while the page is open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import reflex as rx

from states.admin_guard import AdminState, browser_connected
from states.admin_session import LOGIN_ROUTE
from states.views import iso
from tasks.engine import get_engine

REFRESH_SECONDS = 2.0
STATUS_COLORS = {"alive": "green", "stopped": "gray", "dead": "red"}


@dataclass
class WorkerRow:
    id: str = ""
    hostname: str = ""
    pid: int = 0
    status: str = ""
    color: str = "gray"
    started: str = ""
    heartbeat: str = ""
    stopped: str = ""
    running: int = 0
    started_tasks: int = 0
    finished: int = 0


class WorkersState(AdminState):
    workers: list[WorkerRow] = []
    hosts: int = 0
    watching: bool = False

    @rx.var
    def dead_after(self) -> str:
        return f"{get_engine().settings.worker_dead_after_seconds:g} s"

    @rx.var
    def summary(self) -> str:
        alive = sum(1 for w in self.workers if w.status == "alive")
        return f"{alive} alive worker(s) on {self.hosts} host(s), {len(self.workers) - alive} stopped or dead"

    async def _refresh(self) -> None:
        infos = await get_engine().workers.overview()
        self.workers = [
            WorkerRow(
                id=w.id,
                hostname=w.hostname,
                pid=w.pid,
                status=w.status,
                color=STATUS_COLORS[w.status],
                started=iso(w.started_at),
                heartbeat=iso(w.heartbeat_at),
                stopped=iso(w.stopped_at),
                running=w.running,
                started_tasks=w.started,
                finished=w.finished,
            )
            for w in infos
        ]
        self.hosts = len({w.hostname for w in infos if w.status == "alive"})

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        await self._refresh()
        yield WorkersState.watch

    @rx.event(background=True)
    async def watch(self) -> AsyncIterator[Any]:
        async with self:
            if self.watching:
                return
            self.watching = True
            path = self.router.url.path
            token = self.router.session.client_token
        try:
            while browser_connected(token):
                await asyncio.sleep(REFRESH_SECONDS)
                async with self:
                    if self.router.url.path != path:
                        return
                    if await self._admin_user() is None:
                        self.reset()
                        expired = True
                    else:
                        expired = False
                        await self._refresh()
                if expired:
                    yield rx.redirect(LOGIN_ROUTE)
                    return
        finally:
            async with self:
                self.watching = False
