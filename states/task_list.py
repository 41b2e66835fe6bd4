"""`TaskListState`: the task monitor. The list, its count and its charts are
queried in the database with the view's filters (the same engine calls as
`GET /api/tasks` and `GET /api/tasks/stats`), so they cover the whole store,
not the newest rows in memory. The view lives in the URL. While the tab is open
one background event folds bus events into the visible rows four times a second
and refreshes the counts and charts every few seconds; the browser never polls."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import reflex as rx

from states.admin_guard import AdminState, browser_connected
from states.admin_session import LOGIN_ROUTE
from states.views import ANY, PAGE_SIZES, RANGES, STATUS_HEX, Filters, TaskRow, format_seconds, query_params, row_of
from tasks.access import ADMIN
from tasks.bus import ALL_TASKS_TOPIC
from tasks.engine import get_engine
from tasks.errors import TaskError
from tasks.events import TaskEvent, utcnow
from tasks.queries import DIRECT, TaskQuery
from tasks.status import TaskStatus
from tasks.streams import coalesce
from tasks.text import clean_text

FLUSH_SECONDS = 0.25
STATS_SECONDS = 3.0
SESSION_CHECK_SECONDS = 1.0
BULK_LIMIT = 500
PANEL_ROWS = 5
LIST_PATH = "/admins/tasks"


@dataclass
class DurationRow:
    name: str = ""
    finished: int = 0
    p50: str = ""
    p90: str = ""
    p99: str = ""


def _position(created: datetime, task_id: str, rows: list[TaskRow], limit: int) -> int | None:
    """Where a task the bus announces goes on the first page (newest first), or None
    when it is older than a full page (it belongs on a later page). Tasks started
    together are announced in any order, so each goes to its own place, not on top."""
    for i, row in enumerate(rows):
        if (created, task_id) >= (datetime.fromisoformat(row.created), row.task_id):
            return i
    return len(rows) if len(rows) < limit else None


def _cursor(row: TaskRow) -> str:
    return base64.urlsafe_b64encode(json.dumps([row.created, row.task_id]).encode()).decode()


def _after(cursor: str) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    created, task_id = json.loads(base64.urlsafe_b64decode(cursor))
    return datetime.fromisoformat(created), str(task_id)


class TaskListState(AdminState):
    # the view (mirrored in the URL)
    status: str = ANY
    state_filter: str = ANY
    task_filter: str = ANY
    client: str = ANY
    time_range: str = "24h"
    since_local: str = ""
    until_local: str = ""
    search: str = ""
    limit: int = 50
    tz_offset_minutes: int = 0  # the browser's, for the custom range
    # the page
    rows: list[TaskRow] = []
    cursors: list[str] = []  # where each earlier page started ("" for the first)
    next_cursor: str = ""
    page: int = 1
    total: int = 0
    loading: bool = False
    # the charts
    status_counts: list[dict[str, Any]] = []
    throughput: list[dict[str, Any]] = []
    durations: list[DurationRow] = []
    bucket: str = "hour"
    # choices
    states: list[str] = []
    tasks: list[str] = []
    clients: list[str] = []
    # the state panels: each state's newest tasks, whatever the filters
    panel_rows: list[TaskRow] = []
    # bulk actions
    bulk_action: str = ""
    bulk_count: int = 0
    watching: bool = False

    # -- the view ---------------------------------------------------------------

    def _filters(self) -> Filters:
        return Filters(
            status=self.status,
            state=self.state_filter,
            task=self.task_filter,
            client=self.client,
            range=self.time_range,
            since=self._utc_from_local(self.since_local),
            until=self._utc_from_local(self.until_local),
            search=self.search,
            limit=self.limit,
        )

    def _utc_from_local(self, value: str) -> str:
        """A datetime-local value (the browser's wall time) as UTC ISO 8601."""
        if not value:
            return ""
        try:
            wall = datetime.fromisoformat(value)
        except ValueError:
            return ""
        if wall.tzinfo is not None:
            return wall.astimezone(UTC).isoformat()
        return (wall + timedelta(minutes=self.tz_offset_minutes)).replace(tzinfo=UTC).isoformat()

    def _set_filters(self, filters: Filters) -> None:
        self.status, self.state_filter, self.task_filter = filters.status, filters.state, filters.task
        self.client, self.time_range, self.search, self.limit = (
            filters.client,
            filters.range,
            filters.search,
            filters.limit,
        )
        if filters.range == "custom":
            self.since_local, self.until_local = filters.since, filters.until

    @rx.var
    def url_query(self) -> str:
        return self._filters().to_query()

    @rx.var
    def panel_states(self) -> list[str]:
        return sorted({row.state for row in self.panel_rows})

    @rx.var
    def range_label(self) -> str:
        return RANGES.get(self.time_range, RANGES["24h"])[0]

    @rx.var
    def shown(self) -> str:
        if self.total == 0:
            return "no tasks match"
        first = (self.page - 1) * self.limit + 1
        return f"{first:,}-{first + len(self.rows) - 1:,} of {self.total:,}"

    @rx.var
    def has_next(self) -> bool:
        return self.next_cursor != ""

    @rx.var
    def range_options(self) -> list[list[str]]:
        return [[key, label] for key, (label, _) in RANGES.items()]

    @rx.var
    def page_sizes(self) -> list[str]:
        return [str(size) for size in PAGE_SIZES]

    # -- loading ----------------------------------------------------------------

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        """on_load: the view from the URL, its data, and the live feed."""
        self._set_filters(Filters.from_query(query_params(self.router.url.query)))
        self.cursors, self.page = [""], 1
        engine = get_engine()
        self.states = [s.name for s in engine.registry.states()]
        self.tasks = sorted({spec.name for spec in engine.registry.tasks()})
        self.clients = [DIRECT, *sorted({t.client for t in await engine.auth.list()})]
        await self._refresh()
        await self._load_panels()
        yield rx.call_script("new Date().getTimezoneOffset()", callback=TaskListState.set_tz_offset)
        yield TaskListState.watch

    @rx.event
    def set_tz_offset(self, minutes: Any) -> None:
        try:
            self.tz_offset_minutes = max(-900, min(900, int(minutes)))
        except (TypeError, ValueError):
            self.tz_offset_minutes = 0

    async def _refresh(self) -> None:
        await self._load_page()
        await self._load_stats()

    async def _load_page(self) -> None:
        engine = get_engine()
        filters = self._filters()
        cursor = self.cursors[self.page - 1] if self.cursors else ""
        query = filters.query(utcnow(), self.limit + 1, _after(cursor))
        snaps = await engine.list_tasks(query)
        self.rows = [row_of(s) for s in snaps[: self.limit]]
        self.next_cursor = _cursor(self.rows[-1]) if len(snaps) > self.limit and self.rows else ""
        self.total = await engine.count_tasks(replace(query, after=None))

    async def _load_panels(self) -> None:
        engine = get_engine()
        queries = [TaskQuery(all_clients=True, state=name, limit=PANEL_ROWS) for name in self.states]
        found = await asyncio.gather(*(engine.list_tasks(q) for q in queries))
        self.panel_rows = [row_of(snap) for snaps in found for snap in snaps]

    async def _load_stats(self) -> None:
        now = utcnow()
        filters = self._filters()
        since, until = filters.time_range(now)
        query = filters.query(now, 1)
        until = until or now
        since = since if since is not None else until - timedelta(days=7)
        try:
            stats = await get_engine().task_stats(query, since=since, until=until)
        except TaskError:
            stats = await get_engine().task_stats(query, since=until - timedelta(days=7), until=until)
        self.bucket = stats.bucket
        self.status_counts = [
            {"status": c.status, "tasks": c.tasks, "fill": STATUS_HEX.get(c.status, "#8d8d8d")} for c in stats.by_status
        ]
        self.throughput = [
            {"at": p.at.isoformat(), "started": p.started, "finished": p.finished} for p in stats.throughput
        ]
        self.durations = [
            DurationRow(
                name=f"{d.state}.{d.task}",
                finished=d.finished,
                p50=format_seconds(d.p50),
                p90=format_seconds(d.p90),
                p99=format_seconds(d.p99),
            )
            for d in stats.durations
        ]

    # -- changing the view --------------------------------------------------------

    async def _apply(self) -> AsyncIterator[Any]:
        self.cursors, self.page = [""], 1
        await self._refresh()
        query = self.url_query
        yield rx.call_script(f"window.history.replaceState(null, '', '/admins/tasks/{'?' + query if query else ''}')")

    @rx.event
    async def set_status(self, value: str) -> AsyncIterator[Any]:
        self.status = value if value in {ANY, *(s.value for s in TaskStatus)} else ANY
        async for update in self._apply():
            yield update

    @rx.event
    async def set_state_filter(self, value: str) -> AsyncIterator[Any]:
        self.state_filter = clean_text(value)
        async for update in self._apply():
            yield update

    @rx.event
    async def set_task_filter(self, value: str) -> AsyncIterator[Any]:
        self.task_filter = clean_text(value)
        async for update in self._apply():
            yield update

    @rx.event
    async def set_client(self, value: str) -> AsyncIterator[Any]:
        self.client = clean_text(value)
        async for update in self._apply():
            yield update

    @rx.event
    async def set_time_range(self, value: str) -> AsyncIterator[Any]:
        self.time_range = value if value in RANGES else "24h"
        if self.time_range == "custom" and not self.since_local:
            return
        async for update in self._apply():
            yield update

    @rx.event
    async def set_custom_range(self, form: dict[str, Any]) -> AsyncIterator[Any]:
        self.since_local = clean_text(str(form.get("since", ""))[:32])
        self.until_local = clean_text(str(form.get("until", ""))[:32])
        self.time_range = "custom"
        async for update in self._apply():
            yield update

    @rx.event
    async def set_search(self, form: dict[str, Any]) -> AsyncIterator[Any]:
        self.search = clean_text(str(form.get("search", ""))[:200])
        async for update in self._apply():
            yield update

    @rx.event
    async def set_limit(self, value: str) -> AsyncIterator[Any]:
        self.limit = int(value) if value.isdigit() and int(value) in PAGE_SIZES else 50
        async for update in self._apply():
            yield update

    @rx.event
    async def clear_filters(self) -> AsyncIterator[Any]:
        self._set_filters(Filters())
        self.since_local = self.until_local = ""
        async for update in self._apply():
            yield update

    @rx.event
    async def next_page(self) -> None:
        if self.next_cursor:
            self.cursors = [*self.cursors[: self.page], self.next_cursor]
            self.page += 1
            await self._load_page()

    @rx.event
    async def previous_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            await self._load_page()

    # -- bulk actions ---------------------------------------------------------------

    @rx.event
    async def ask_bulk(self, action: str) -> None:
        """The confirmation says how many tasks the action will touch."""
        if action not in ("cancel", "rerun", "delete"):
            return
        query = self._filters().query(utcnow(), BULK_LIMIT)
        if action == "cancel":
            query = replace(query, statuses=tuple(s.value for s in TaskStatus if not s.is_terminal))
        elif action in ("rerun", "delete") and not query.statuses:
            query = replace(query, statuses=tuple(s.value for s in TaskStatus if s.is_terminal))
        self.bulk_count = min(await get_engine().count_tasks(query), BULK_LIMIT)
        self.bulk_action = action

    @rx.event
    def close_bulk(self) -> None:
        self.bulk_action, self.bulk_count = "", 0

    @rx.event
    def bulk_open_changed(self, is_open: bool) -> None:
        if not is_open:  # Esc, or a click outside
            self.bulk_action, self.bulk_count = "", 0

    @rx.event
    async def run_bulk(self) -> AsyncIterator[Any]:
        action, self.bulk_action = self.bulk_action, ""
        engine = get_engine()
        query = self._filters().query(utcnow(), BULK_LIMIT)
        done = failed = 0
        for snap in await engine.list_tasks(query):
            if (action == "cancel") == snap.is_terminal:
                continue  # cancel acts on running tasks, re-run and delete on ended ones
            try:
                if action == "cancel":
                    await engine.cancel(snap.task_id, ADMIN)
                elif action == "rerun":
                    await engine.rerun(snap.task_id, ADMIN)
                else:
                    await engine.delete(snap.task_id, ADMIN)
                done += 1
            except TaskError:
                failed += 1
        verb = {"cancel": "cancelled", "rerun": "re-ran", "delete": "deleted"}.get(action, action)
        await self._refresh()
        yield rx.toast.success(f"{verb} {done} task(s)" + (f", {failed} could not be" if failed else ""))

    # -- live ---------------------------------------------------------------------

    @rx.event(background=True)
    async def watch(self) -> AsyncIterator[Any]:
        """While this tab is connected and its admin session valid: bus events go to
        the rows on screen at once (coalesced), counts and charts every few seconds."""
        async with self:
            if self.watching:
                return
            self.watching = True
            token = self.router.session.client_token
        engine = get_engine()
        on_list = True
        checked = stats_at = time.monotonic()
        stale = False
        try:
            async with engine.bus.subscribe(ALL_TASKS_TOPIC) as sub:
                while on_list and browser_connected(token):
                    first = await sub.get(timeout=1.0)
                    if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                        checked = time.monotonic()
                        async with self:
                            on_list = self.router.url.path.rstrip("/") == LIST_PATH
                            expired = await self._admin_user() is None
                            if expired:
                                self.reset()
                        if expired:
                            yield rx.redirect(LOGIN_ROUTE)
                            return
                    if first is not None or sub.overflowed:
                        await asyncio.sleep(FLUSH_SECONDS)  # gather what arrives meanwhile
                        batch = coalesce(([first] if first else []) + sub.drain())
                        overflowed = sub.overflowed
                        sub.reset_overflow()
                        async with self:
                            if overflowed:
                                await self._load_page()
                                await self._load_panels()
                            else:
                                self._fold(batch)
                                self._fold_panels(batch)
                        stale = True
                    if stale and time.monotonic() - stats_at >= STATS_SECONDS:
                        stats_at, stale = time.monotonic(), False
                        async with self:
                            await self._load_stats()
        finally:
            async with self:
                self.watching = False

    def _fold(self, events: list[TaskEvent]) -> None:
        """Updates rows on screen in place; on the first page, new matching tasks go in
        their place by creation time."""
        index = {row.task_id: i for i, row in enumerate(self.rows)}
        rows = list(self.rows)
        filters = self._filters()
        now = utcnow()
        for event in events:
            snap = event.snapshot
            if snap is None:
                continue
            if event.task_id in index:
                rows[index[event.task_id]] = row_of(snap)
            elif (
                self.page == 1
                and filters.matches(snap, now)
                and (at := _position(snap.created_at, snap.task_id, rows, self.limit)) is not None
            ):
                rows.insert(at, row_of(snap))
                index = {row.task_id: i for i, row in enumerate(rows)}
                self.total += 1
        self.rows = rows[: self.limit]

    def _fold_panels(self, events: list[TaskEvent]) -> None:
        rows = {row.task_id: row for row in self.panel_rows}
        for event in events:
            if event.snapshot is not None and event.snapshot.state in self.states:
                rows[event.task_id] = row_of(event.snapshot)
        by_state: dict[str, list[TaskRow]] = {}
        for row in sorted(rows.values(), key=lambda r: (r.created, r.task_id), reverse=True):
            by_state.setdefault(row.state, []).append(row)
        self.panel_rows = [row for name in self.states for row in by_state.get(name, [])[:PANEL_ROWS]]
