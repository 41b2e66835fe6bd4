"""`TaskRecordsState`: the records admin: every task row, paginated, sortable,
searchable, with bulk delete by selection or by status."""

from __future__ import annotations

from datetime import timezone

import reflex as rx

from tasks.engine import Access, get_engine
from tasks.errors import TaskError
from tasks.status import TaskStatus
from tasks.store import TaskQuery

ADMIN = Access(all_clients=True)
PAGE_SIZE = 25
ANY = "any"


class TaskRecordsState(rx.State):
    rows: list[dict[str, str]] = []
    descending: bool = True
    status: str = ANY
    search: str = ""
    cursors: list[str] = []  # task ids ending each earlier page
    page: int = 1
    has_next: bool = False
    selected: list[str] = []
    notice: str = ""

    @rx.var
    def status_options(self) -> list[str]:
        return [ANY, *(s.value for s in TaskStatus)]

    @rx.var
    def visible(self) -> list[dict[str, str]]:
        needle = self.search.strip().lower()
        return [r for r in self.rows if not needle or needle in " ".join(r.values()).lower()]

    async def _query(self, after_id: str | None) -> None:
        engine = get_engine()
        after = None
        if after_id:
            record = await engine.store.get_task(after_id)
            if record is not None and record.created_at is not None:
                after = (record.created_at.replace(tzinfo=record.created_at.tzinfo or timezone.utc), record.id)
        statuses = () if self.status == ANY else (self.status,)
        query = TaskQuery(all_owners=True, statuses=statuses, limit=PAGE_SIZE + 1, descending=self.descending, after=after)
        snaps = await engine.list_tasks(query)
        self.has_next = len(snaps) > PAGE_SIZE
        self.rows = [
            {
                "task_id": s.task_id,
                "state": s.state,
                "task": s.task,
                "client": s.client or "(direct)",
                "status": str(s.status),
                "progress": f"{s.progress:.0f}%",
                "created": s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "finished": s.finished_at.strftime("%H:%M:%S") if s.finished_at else "",
            }
            for s in snaps[:PAGE_SIZE]
        ]

    @rx.event
    async def load(self) -> None:
        self.cursors, self.page, self.selected = [], 1, []
        await self._query(None)

    @rx.event
    async def next_page(self) -> None:
        if self.has_next and self.rows:
            self.cursors = [*self.cursors, self.rows[-1]["task_id"]]
            self.page += 1
            await self._query(self.cursors[-1])

    @rx.event
    async def previous_page(self) -> None:
        if self.page > 1:
            self.cursors = self.cursors[:-1]
            self.page -= 1
            await self._query(self.cursors[-1] if self.cursors else None)

    @rx.event
    async def toggle_sort(self) -> None:
        self.descending = not self.descending
        await self.load()

    @rx.event
    async def set_status(self, value: str) -> None:
        self.status = value
        await self.load()

    @rx.event
    def set_search(self, value: str) -> None:
        self.search = value

    @rx.event
    def toggle(self, task_id: str, checked: bool) -> None:
        self.selected = [t for t in self.selected if t != task_id] + ([task_id] if checked else [])

    @rx.event
    async def delete_selected(self) -> None:
        engine = get_engine()
        deleted = 0
        for task_id in self.selected:
            try:
                await engine.delete(task_id, ADMIN)
                deleted += 1
            except TaskError:
                continue
        self.notice = f"deleted {deleted} task(s)"
        await self.load()

    @rx.event
    async def delete_by_status(self) -> None:
        if self.status == ANY:
            self.notice = "choose a finished status to delete by"
            return
        try:
            count = await get_engine().delete_many((TaskStatus(self.status),), ADMIN)
            self.notice = f"deleted {count} {self.status} task(s)"
        except TaskError as exc:
            self.notice = exc.message
        await self.load()
