"""`TaskMonitorState`: the live task monitor. One background event per open page
subscribes to the engine's all-tasks feed and folds events into `rows` at most
every quarter second, so 100 tasks ticking 10 times a second cost the browser
four small deltas a second. The browser never polls."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import reflex as rx

from tasks.bus import ALL_TASKS_TOPIC
from tasks.engine import Access, get_engine
from tasks.errors import TaskError
from tasks.events import EventType, TaskEvent, TaskSnapshot
from tasks.store import TaskQuery
from tasks.streams import coalesce

ADMIN = Access(all_clients=True)
MAX_ROWS = 300
FLUSH_SECONDS = 0.25
ALL = "all"


@dataclass
class TaskRow:
    task_id: str = ""
    state: str = ""
    task: str = ""
    client: str = ""
    status: str = ""
    progress: int = 0  # whole percent, as shown
    message: str = ""
    created: str = ""
    duration: str = ""
    created_ts: float = 0.0


@dataclass
class LogLine:
    time: str = ""
    level: str = ""
    message: str = ""


@dataclass
class ArtifactLink:
    name: str = ""
    url: str = ""
    size: int = 0


@dataclass
class TaskDetailView:
    task_id: str = ""
    state: str = ""
    task: str = ""
    client: str = ""
    status: str = ""
    progress: float = 0.0
    args: str = ""
    result: str = ""
    error: str = ""
    running: bool = False
    logs: list[LogLine] = field(default_factory=list)
    artifacts: list[ArtifactLink] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def _clock(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M:%S") if value else ""


def _duration(snap: TaskSnapshot) -> str:
    if snap.started_at is None:
        return ""
    end = snap.finished_at or datetime.now(timezone.utc)
    return f"{(end - snap.started_at).total_seconds():.1f} s"


def row_of(snap: TaskSnapshot) -> TaskRow:
    return TaskRow(
        task_id=snap.task_id,
        state=snap.state,
        task=snap.task,
        client=snap.client or "(direct)",
        status=str(snap.status),
        progress=int(snap.progress),
        message=snap.message or "",
        created=_clock(snap.created_at),
        duration=_duration(snap),
        created_ts=snap.created_at.timestamp(),
    )


def _still_connected(token: str) -> bool:
    from reflex.utils.prerequisites import get_app

    namespace = get_app().app.event_namespace
    manager = getattr(namespace, "_token_manager", None)
    return manager is None or token in getattr(manager, "token_to_socket", {token: None})


class TaskMonitorState(rx.State):
    rows: list[TaskRow] = []
    state_filter: str = ALL
    status_filter: str = ALL
    client_filter: str = ALL
    search: str = ""
    selected: TaskDetailView = TaskDetailView()
    message_draft: str = ""
    notice: str = ""
    watching: bool = False

    @rx.var
    def visible_rows(self) -> list[TaskRow]:
        needle = self.search.strip().lower()
        return [
            r
            for r in self.rows
            if (self.state_filter == ALL or r.state == self.state_filter)
            and (self.status_filter == ALL or r.status == self.status_filter)
            and (self.client_filter == ALL or r.client == self.client_filter)
            and (not needle or needle in f"{r.task_id} {r.state} {r.task} {r.client} {r.message}".lower())
        ]

    @rx.var
    def state_options(self) -> list[str]:
        return [ALL, *sorted({r.state for r in self.rows})]

    @rx.var
    def client_options(self) -> list[str]:
        return [ALL, *sorted({r.client for r in self.rows})]

    @rx.var
    def status_counts(self) -> list[dict[str, Any]]:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return [{"status": k, "tasks": v} for k, v in sorted(counts.items())]

    @rx.var
    def per_minute(self) -> list[dict[str, Any]]:
        buckets: dict[str, int] = {}
        for r in sorted(self.rows, key=lambda r: r.created_ts):
            minute = datetime.fromtimestamp(r.created_ts, timezone.utc).strftime("%H:%M")
            buckets[minute] = buckets.get(minute, 0) + 1
        return [{"minute": k, "started": v} for k, v in list(buckets.items())[-30:]]

    @rx.event
    def set_state_filter(self, value: str) -> None:
        self.state_filter = value

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value

    @rx.event
    def set_client_filter(self, value: str) -> None:
        self.client_filter = value

    @rx.event
    def set_search(self, value: str) -> None:
        self.search = value

    @rx.event
    def set_message_draft(self, value: str) -> None:
        self.message_draft = value

    async def _reload(self) -> None:
        snaps = await get_engine().list_tasks(TaskQuery(all_owners=True, limit=MAX_ROWS))
        self.rows = [row_of(s) for s in snaps]

    @rx.event(background=True)
    async def watch(self) -> None:
        """Runs while this browser tab is connected: bus events -> rows, coalesced."""
        async with self:
            if self.watching:
                return
            self.watching = True
            await self._reload()
            token = self.router.session.client_token
        engine = get_engine()
        try:
            async with engine.bus.subscribe(ALL_TASKS_TOPIC) as sub:
                while _still_connected(token):
                    first = await sub.get(timeout=1.0)
                    if first is None and not sub.overflowed:
                        continue
                    await asyncio.sleep(FLUSH_SECONDS)  # gather what arrives meanwhile
                    batch = coalesce(([first] if first else []) + sub.drain())
                    overflowed, sub.overflowed = sub.overflowed, False
                    async with self:
                        if overflowed:
                            await self._reload()
                        else:
                            self._apply(batch)
                        if self.selected.task_id and any(e.task_id == self.selected.task_id for e in batch):
                            await self._load_detail(self.selected.task_id)
        finally:
            async with self:
                self.watching = False

    def _apply(self, events: list[TaskEvent]) -> None:
        index = {r.task_id: i for i, r in enumerate(self.rows)}
        rows = list(self.rows)
        for event in events:
            if event.snapshot is None:
                continue
            row = row_of(event.snapshot)
            if event.task_id in index:
                rows[index[event.task_id]] = row
            else:
                rows.insert(0, row)
                index = {r.task_id: i for i, r in enumerate(rows)}
        self.rows = rows[:MAX_ROWS]

    async def _load_detail(self, task_id: str) -> None:
        engine = get_engine()
        snap = await engine.snapshot(task_id, ADMIN)
        events = await engine.durable_events(task_id)
        record = await engine.store.get_task(task_id)
        self.selected = TaskDetailView(
            task_id=snap.task_id,
            state=snap.state,
            task=snap.task,
            client=snap.client or "(direct)",
            status=str(snap.status),
            progress=snap.progress,
            args=json.dumps(record.args if record else None, indent=2),
            result="" if snap.result is None else json.dumps(snap.result, indent=2),
            error=snap.error or "",
            running=not snap.is_terminal,
            logs=[
                LogLine(time=_clock(e.timestamp), level=e.level.value if e.level else "info", message=e.message or "")
                for e in events
                if e.type is EventType.LOG
            ],
            artifacts=[
                ArtifactLink(name=e.data["name"], url=e.data["url"], size=e.data["size"])
                for e in events
                if e.type is EventType.ARTIFACT and isinstance(e.data, dict)
            ],
            messages=[json.dumps(e.data) for e in events if e.type is EventType.MESSAGE],
        )

    @rx.event
    async def select(self, task_id: str) -> None:
        try:
            await self._load_detail(task_id)
        except TaskError as exc:
            self.notice = exc.message

    @rx.event
    def close_detail(self) -> None:
        self.selected = TaskDetailView()

    async def _act(self, action: Any, done: str) -> None:
        try:
            await action
            self.notice = done
        except TaskError as exc:
            self.notice = exc.message
        await self._reload()

    @rx.event
    async def cancel(self, task_id: str) -> None:
        await self._act(get_engine().cancel(task_id, ADMIN), f"cancelled {task_id}")
        await self._load_detail(task_id)

    @rx.event
    async def delete(self, task_id: str) -> None:
        await self._act(get_engine().delete(task_id, ADMIN), f"deleted {task_id}")
        self.selected = TaskDetailView()

    @rx.event
    async def ack(self, task_id: str) -> None:
        await self._act(get_engine().ack(task_id, ADMIN), f"acknowledged {task_id}")
        self.selected = TaskDetailView()

    @rx.event
    async def send_message(self, task_id: str) -> None:
        try:
            body = json.loads(self.message_draft)
        except json.JSONDecodeError:
            self.notice = "the message must be JSON, e.g. {\"action\": \"skip\"}"
            return
        await self._act(get_engine().send_message(task_id, body, ADMIN), "message sent")
        self.message_draft = ""
        await self._load_detail(task_id)
