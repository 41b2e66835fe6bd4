"""/admin/task/: the records admin: every task row, sortable, paginated, bulk delete."""

from __future__ import annotations

import reflex as rx

from app.layout import admin_page
from states.task_records import TaskRecordsState

COLUMNS = ["task_id", "state", "task", "client", "status", "progress", "created", "finished"]


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.checkbox(on_change=lambda checked: TaskRecordsState.toggle(row["task_id"], checked))),
        *[rx.table.cell(row[c]) for c in COLUMNS],
        class_name="record-row",
    )


@admin_page("/admin/task/", "Task records", on_load=[TaskRecordsState.load])
def records() -> rx.Component:
    return rx.vstack(
        rx.heading("Task records", size="6"),
        rx.hstack(
            rx.input(placeholder="search this page", value=TaskRecordsState.search, on_change=TaskRecordsState.set_search),
            rx.select(TaskRecordsState.status_options, value=TaskRecordsState.status, on_change=TaskRecordsState.set_status),
            rx.button(rx.cond(TaskRecordsState.descending, "Newest first", "Oldest first"), on_click=TaskRecordsState.toggle_sort, variant="soft"),
            rx.button("Delete selected", on_click=TaskRecordsState.delete_selected, color_scheme="red", variant="soft"),
            rx.button("Delete all with this status", on_click=TaskRecordsState.delete_by_status, color_scheme="red", variant="outline"),
            rx.text(TaskRecordsState.notice, size="2", color_scheme="gray"),
            spacing="3",
            align="center",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(""), *[rx.table.column_header_cell(c) for c in COLUMNS])),
            rx.table.body(rx.foreach(TaskRecordsState.visible, _row)),
            width="100%",
            size="1",
        ),
        rx.hstack(
            rx.button("Previous", on_click=TaskRecordsState.previous_page, disabled=TaskRecordsState.page <= 1, variant="soft"),
            rx.text("page ", TaskRecordsState.page.to_string()),
            rx.button("Next", on_click=TaskRecordsState.next_page, disabled=~TaskRecordsState.has_next, variant="soft"),
        ),
        spacing="4",
        width="100%",
    )
