"""`TaskRunState`: one task's run view (`/admins/tasks/<task_id>`): what it is,
when it ran, a timeline of its events, its logs as they come, its arguments,
result or error, its artifacts, and what an admin can do with it. It reads the
engine like `GET /api/tasks/<id>` and follows the task's own event stream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import reflex as rx

from states.admin_guard import AdminState
from states.admin_session import LOGIN_ROUTE
from states.task_list import TaskListState
from states.views import STATUS_COLORS, format_seconds, iso, shown_progress
from tasks.access import ADMIN
from tasks.engine import get_engine
from tasks.errors import TaskError
from tasks.events import EventType, TaskEvent, TaskSnapshot
from tasks.streams import task_events

LOG_COLORS = {"info": "gray", "warning": "amber", "error": "red", "success": "green", "command": "violet"}
MAX_LOG_LINES = 2000
MAX_TIMELINE_MARKS = 200
LONG_ARGS = 400
SESSION_CHECK_SECONDS = 1.0


@dataclass
class LogLine:
    id: int = 0
    time: str = ""
    level: str = "info"
    color: str = "gray"
    message: str = ""


@dataclass
class Mark:
    """One event on the timeline, at `left` percent of the run's span."""

    left: float = 0.0
    kind: str = ""
    label: str = ""
    time: str = ""
    color: str = "gray"


@dataclass
class ArtifactLink:
    name: str = ""
    label: str = ""
    mime: str = ""
    size: str = ""
    url: str = ""


@dataclass
class CustomEvent:
    time: str = ""
    type: str = ""
    data: str = ""


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"


class TaskRunState(AdminState):
    run_id: str = ""
    back_to: str = "/admins/tasks/"  # the list as the admin left it (its filters)
    found: bool = True
    state_name: str = ""
    task_name: str = ""
    client: str = ""
    status: str = ""
    color: str = "gray"
    error_code: str = ""
    error: str = ""
    message: str = ""
    progress: int = 0
    attempt: int = 1
    retry_of: str = ""
    running: bool = False
    cancel_requested: bool = False
    created: str = ""
    started: str = ""
    finished: str = ""
    duration: str = ""
    worker: str = ""
    args: str = ""
    args_long: bool = False
    result: str = ""
    logs: list[LogLine] = []
    log_level: str = "all"
    log_search: str = ""
    follow: bool = True
    marks: list[Mark] = []
    timeline_span: str = ""  # the time the axis covers, from creation
    artifacts: list[ArtifactLink] = []
    custom_events: list[CustomEvent] = []
    messages: list[str] = []
    message_draft: str = ""
    confirm: str = ""  # the destructive action waiting for a yes
    watching: bool = False

    @rx.var
    def shown_logs(self) -> list[LogLine]:
        needle = self.log_search.strip().lower()
        return [
            line
            for line in self.logs
            if (self.log_level == "all" or line.level == self.log_level)
            and (not needle or needle in line.message.lower())
        ]

    @rx.var
    def log_counts(self) -> str:
        return f"{len(self.shown_logs)} of {len(self.logs)} lines"

    # -- loading --------------------------------------------------------------

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        self.reset()
        self.run_id = str(self.router.page.params.get("task_id", ""))[:64]
        query = (await self.get_state(TaskListState)).url_query
        self.back_to = "/admins/tasks/" + (f"?{query}" if query else "")
        await self._load()
        if self.found:
            yield TaskRunState.watch

    async def _load(self) -> None:
        engine = get_engine()
        try:
            found = await engine.inspect(self.run_id, ADMIN)
        except TaskError:
            self.found = False
            return
        snap, events = found.snapshot, found.events
        self._show(snap)
        self.worker = found.worker_id or ""
        self.args = json.dumps(found.args, indent=2, ensure_ascii=False) if found.args is not None else "(none)"
        self.args_long = len(self.args) > LONG_ARGS
        self.logs = [self._log_line(e) for e in events if e.type == EventType.LOG][-MAX_LOG_LINES:]
        self.artifacts = [
            ArtifactLink(
                name=e.data["name"],
                label=str(e.data.get("label") or e.data["name"]),
                mime=e.data.get("mime", ""),
                size=_size(int(e.data.get("size", 0))),
                url=engine.signed_artifact_url(self.run_id, e.data["name"]),
            )
            for e in events
            if e.type == EventType.ARTIFACT and isinstance(e.data, dict)
        ]
        self.messages = [json.dumps(e.data, ensure_ascii=False) for e in events if e.type == EventType.MESSAGE]
        self.custom_events = [
            CustomEvent(time=iso(e.timestamp), type=str(e.type), data=json.dumps(e.data, ensure_ascii=False)[:2000])
            for e in events
            if e.type not in (EventType.LOG, EventType.ARTIFACT, EventType.MESSAGE, EventType.RESULT, EventType.ERROR)
        ]
        self._timeline(snap, events)

    def _show(self, snap: TaskSnapshot) -> None:
        self.found = True
        self.state_name, self.task_name = snap.state, snap.task
        self.client = snap.client or "(direct)"
        self.status = str(snap.status)
        self.color = STATUS_COLORS.get(self.status, "gray")
        self.error_code, self.error, self.message = snap.error_code or "", snap.error or "", snap.message or ""
        self.progress = shown_progress(snap)
        self.attempt, self.retry_of = snap.attempt, snap.retry_of or ""
        self.running, self.cancel_requested = not snap.is_terminal, snap.cancel_requested
        self.created, self.started, self.finished = iso(snap.created_at), iso(snap.started_at), iso(snap.finished_at)
        if snap.started_at is not None and snap.finished_at is not None:
            self.duration = format_seconds((snap.finished_at - snap.started_at).total_seconds())
        self.result = "" if snap.result is None else json.dumps(snap.result, indent=2, ensure_ascii=False)

    @staticmethod
    def _log_line(event: TaskEvent) -> LogLine:
        level = event.level.value if event.level is not None else "info"
        return LogLine(
            id=event.id,
            time=iso(event.timestamp),
            level=level,
            color=LOG_COLORS.get(level, "gray"),
            message=event.message or "",
        )

    def _timeline(self, snap: TaskSnapshot, events: list[TaskEvent]) -> None:
        start = snap.created_at
        end = snap.finished_at or max([snap.timestamp, *(e.timestamp for e in events)], default=snap.timestamp)
        span = max((end - start).total_seconds(), 0.001)
        self.timeline_span = format_seconds(span)

        def at(moment: datetime | None) -> float:
            return (
                0.0 if moment is None else round(100 * max(0.0, min(1.0, (moment - start).total_seconds() / span)), 2)
            )

        marks = [Mark(left=0.0, kind="created", label="created", time=iso(start), color="gray")]
        if snap.started_at is not None:
            marks.append(
                Mark(left=at(snap.started_at), kind="started", label="started", time=iso(snap.started_at), color="blue")
            )
        step = max(1, len(events) // MAX_TIMELINE_MARKS)
        for i, event in enumerate(events):
            if i % step and not event.is_terminal:
                continue
            kind = str(event.type)
            if event.type == EventType.LOG:
                level = event.level.value if event.level is not None else "info"
                label, color = f"{level}: {(event.message or '')[:80]}", LOG_COLORS.get(level, "gray")
            elif event.is_terminal:
                label, color = self.status.lower(), self.color
            else:
                label, color = kind, "violet"
            marks.append(Mark(left=at(event.timestamp), kind=kind, label=label, time=iso(event.timestamp), color=color))
        self.marks = marks

    # -- live -------------------------------------------------------------------

    @rx.event(background=True)
    async def watch(self) -> AsyncIterator[Any]:
        """Follows the task's stream from what is on screen; stops when it ends, the
        tab goes away or the admin session does."""
        async with self:
            if self.watching or not self.running:
                return
            self.watching = True
            task_id = self.run_id
            after = max((line.id for line in self.logs), default=0)
        checked = time.monotonic()
        stream = task_events(get_engine(), task_id, after=after, access=ADMIN, keepalive=1.0)
        try:
            async for event in stream:
                if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                    checked = time.monotonic()
                    async with self:
                        expired = await self._admin_user() is None
                        if expired:
                            self.reset()
                        gone = self.run_id != task_id
                    if expired:
                        yield rx.redirect(LOGIN_ROUTE)
                        return
                    if gone:
                        return
                if event is None or event.type == EventType.SNAPSHOT:
                    continue
                async with self:
                    if event.snapshot is not None:
                        self._show(event.snapshot)
                    if event.type == EventType.LOG:
                        if event.id > max((line.id for line in self.logs), default=0):
                            # (a reload for an earlier event may have fetched this line already)
                            self.logs = [*self.logs, self._log_line(event)][-MAX_LOG_LINES:]
                    elif event.is_durable:
                        await self._load()
                    follow = self.follow
                if event.type == EventType.LOG and follow:
                    yield rx.call_script("document.getElementById('run-logs')?.scrollTo({top: 1e9})")
                if event.is_terminal:
                    async with self:
                        await self._load()
                    return
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            async with self:
                self.watching = False

    # -- what an admin does -----------------------------------------------------

    @rx.event
    def set_log_level(self, value: str) -> None:
        self.log_level = value if value in ("all", *LOG_COLORS) else "all"

    @rx.event
    def set_log_search(self, value: str) -> None:
        self.log_search = value[:200]

    @rx.event
    def set_follow(self, value: bool) -> None:
        self.follow = bool(value)

    @rx.event
    def set_message_draft(self, value: str) -> None:
        self.message_draft = value[:65536]

    @rx.event
    def ask(self, action: str) -> None:
        self.confirm = action if action in ("cancel", "delete", "ack") else ""

    @rx.event
    def dismiss(self) -> None:
        self.confirm = ""

    @rx.event
    def confirm_open_changed(self, is_open: bool) -> None:
        if not is_open:  # Esc, or a click outside
            self.confirm = ""

    @rx.event
    async def confirmed(self) -> AsyncIterator[Any]:
        action, self.confirm = self.confirm, ""
        engine = get_engine()
        try:
            if action == "cancel":
                snap = await engine.cancel(self.run_id, ADMIN)
                self._show(snap)
                yield rx.toast.info("cancelled" if snap.is_terminal else "cancel requested: the task is stopping")
            elif action == "delete":
                await engine.delete(self.run_id, ADMIN)
                yield rx.toast.success("deleted")
                yield rx.redirect(self.back_to)
            elif action == "ack":
                await engine.ack(self.run_id, ADMIN)
                yield rx.toast.success("acknowledged and removed")
                yield rx.redirect(self.back_to)
        except TaskError as exc:
            yield rx.toast.error(exc.message)

    @rx.event
    async def rerun(self) -> AsyncIterator[Any]:
        try:
            snap = await get_engine().rerun(self.run_id, ADMIN)
        except TaskError as exc:
            yield rx.toast.error(exc.message)
            return
        yield rx.toast.success("started again")
        yield rx.redirect(f"/admins/tasks/{snap.task_id}")

    @rx.event
    async def send_message(self) -> AsyncIterator[Any]:
        try:
            body = json.loads(self.message_draft)
        except json.JSONDecodeError:
            yield rx.toast.error('the message must be JSON, e.g. {"action": "skip"}')
            return
        try:
            await get_engine().send_message(self.run_id, body, ADMIN)
        except TaskError as exc:
            yield rx.toast.error(exc.message)
            return
        self.message_draft = ""
        yield rx.toast.success("message sent")
