"""`TaskRecordsState`: the records admin: every task row, paginated, sortable,
searched in the database, with bulk delete of exactly the rows ticked (a set of
task ids, kept across pages, sorts and filters, shown as "N selected") or of
every finished task in a status; both confirmed first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import reflex as rx

from states.admin_guard import AdminState
from states.views import ANY, iso
from tasks.access import ADMIN
from tasks.engine import get_engine
from tasks.errors import TaskError
from tasks.events import TaskSnapshot
from tasks.queries import DIRECT, TaskQuery
from tasks.status import TaskStatus
from tasks.text import clean_text

PAGE_SIZE = 25
MAX_SELECTED = 1000


@dataclass
class RecordRow:
    task_id: str = ""
    state: str = ""
    task: str = ""
    client: str = ""
    status: str = ""
    progress: str = ""
    created: str = ""
    finished: str = ""


def _row(snap: TaskSnapshot) -> RecordRow:
    return RecordRow(
        task_id=snap.task_id,
        state=snap.state,
        task=snap.task,
        client=snap.client or DIRECT,
        status=str(snap.status),
        progress=f"{100 if snap.status == 'Completed' else int(snap.progress)}%",
        created=iso(snap.created_at),
        finished=iso(snap.finished_at),
    )


class TaskRecordsState(AdminState):
    rows: list[RecordRow] = []
    descending: bool = True
    status: str = ANY
    search: str = ""
    cursors: list[list[str]] = []  # (created, id) of the last row of each earlier page
    page: int = 1
    has_next: bool = False
    selected: list[str] = []  # task ids, in the order they were ticked
    confirm: str = ""  # "selected" | "status" while a confirmation is open
    status_count: int = 0

    @rx.var
    def status_options(self) -> list[str]:
        return [ANY, *(s.value for s in TaskStatus)]

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected)

    async def _query(self) -> None:
        after = None
        if self.cursors and self.page > 1:
            created, task_id = self.cursors[self.page - 2]
            after = (datetime.fromisoformat(created), task_id)
        query = TaskQuery(
            all_clients=True,
            statuses=() if self.status == ANY else (self.status,),
            search=self.search.strip() or None,
            limit=PAGE_SIZE + 1,
            descending=self.descending,
            after=after,
        )
        snaps = await get_engine().list_tasks(query)
        self.has_next = len(snaps) > PAGE_SIZE
        self.rows = [_row(s) for s in snaps[:PAGE_SIZE]]

    async def _first_page(self) -> None:
        self.cursors, self.page = [], 1
        await self._query()

    @rx.event
    async def load(self) -> None:
        await self._first_page()

    @rx.event
    async def next_page(self) -> None:
        if self.has_next and self.rows:
            self.cursors = [*self.cursors[: self.page - 1], [self.rows[-1].created, self.rows[-1].task_id]]
            self.page += 1
            await self._query()

    @rx.event
    async def previous_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            await self._query()

    @rx.event
    async def toggle_sort(self) -> None:
        self.descending = not self.descending
        await self._first_page()

    @rx.event
    async def set_status(self, value: str) -> None:
        self.status = value if value in self.status_options else ANY
        await self._first_page()

    @rx.event
    async def set_search(self, form: dict[str, Any]) -> None:
        self.search = clean_text(str(form.get("search", ""))[:200])
        await self._first_page()

    @rx.event
    def toggle(self, task_id: str, checked: bool) -> None:
        kept = [t for t in self.selected if t != task_id]
        self.selected = [*kept, task_id][:MAX_SELECTED] if checked else kept

    @rx.event
    def clear_selection(self) -> None:
        self.selected = []

    @rx.event
    async def ask(self, what: str) -> AsyncIterator[Any]:
        if what == "selected" and self.selected:
            self.confirm = "selected"
        elif what == "status":
            if self.status == ANY or not TaskStatus(self.status).is_terminal:
                yield rx.toast.warning("choose a finished status (Completed, Error, Cancelled, Interrupted) first")
                return
            query = TaskQuery(all_clients=True, statuses=(self.status,))
            self.status_count = await get_engine().count_tasks(query)
            self.confirm = "status"

    @rx.event
    def dismiss(self) -> None:
        self.confirm = ""

    @rx.event
    def confirm_open_changed(self, is_open: bool) -> None:
        if not is_open:  # Esc, or a click outside
            self.confirm = ""

    @rx.event
    async def confirmed(self) -> AsyncIterator[Any]:
        what, self.confirm = self.confirm, ""
        engine = get_engine()
        if what == "selected":
            deleted, failed = 0, []
            for task_id in self.selected:
                try:
                    await engine.delete(task_id, ADMIN)
                    deleted += 1
                except TaskError:
                    failed.append(task_id)
            self.selected = failed
            message = f"deleted {deleted} task(s)" + (
                f"; {len(failed)} could not be (still selected)" if failed else ""
            )
            yield rx.toast.success(message) if not failed else rx.toast.warning(message)
        elif what == "status":
            try:
                count = await engine.delete_many((TaskStatus(self.status),), ADMIN)
                yield rx.toast.success(f"deleted {count} {self.status} task(s)")
            except TaskError as exc:
                yield rx.toast.error(exc.message)
            self.selected = [
                t for t in self.selected if t not in {r.task_id for r in self.rows if r.status == self.status}
            ]
        await self._query()
