"""/admin/task/: the records admin: every task row, searched, sorted, paged, and
bulk delete of exactly the rows ticked (kept across pages) or of a whole status."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.components.status import local_time, short_task_id, time_zone_note
from app.layout import admin_page
from states.task_records import RecordRow, TaskRecordsState

COLUMNS = [
    ("Id", "task_id"),
    ("State", "state"),
    ("Task", "task"),
    ("Client", "client"),
    ("Status", "status"),
    ("Progress", "progress"),
]


def _row(row: RecordRow) -> rx.Component:
    s = TaskRecordsState
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=s.selected.contains(row.task_id),
                on_change=lambda checked: s.toggle(row.task_id, checked),
                aria_label="select task " + row.task_id,
                class_name="record-select",
            ),
            data_label="Select",
        ),
        rx.table.cell(rx.link(short_task_id(row.task_id), href="/admins/tasks/" + row.task_id), data_label="Id"),
        *[rx.table.cell(getattr(row, field), data_label=label) for label, field in COLUMNS[1:]],
        rx.table.cell(local_time(row.created), data_label="Created", white_space="nowrap"),
        rx.table.cell(local_time(row.finished), data_label="Finished", white_space="nowrap"),
        class_name="record-row",
        data_task_id=row.task_id,
    )


def _toolbar() -> rx.Component:
    s = TaskRecordsState
    return rx.flex(
        rx.form(
            rx.hstack(
                rx.input(
                    name="search",
                    default_value=s.search,
                    placeholder="id, arguments, message, result",
                    id="records-search",
                    aria_label="search tasks",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
            ),
            on_submit=s.set_search,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="status", id="records-status"),
            rx.select.content(
                rx.foreach(
                    s.status_options,
                    lambda o: rx.select.item(rx.cond(o == "any", "Status: any", o), value=o),
                )
            ),
            value=s.status,
            on_change=s.set_status,
        ),
        rx.button(
            rx.icon("arrow-up-down", size=14),
            rx.cond(s.descending, "Newest first", "Oldest first"),
            on_click=s.toggle_sort,
            variant="soft",
            id="records-sort",
        ),
        wrap="wrap",
        spacing="3",
        align="center",
        width="100%",
    )


def _selection() -> rx.Component:
    s = TaskRecordsState
    return rx.flex(
        rx.text(s.selected_count.to_string(), " selected", size="2", weight="medium", id="selected-count"),
        rx.button(
            "Clear",
            on_click=s.clear_selection,
            variant="ghost",
            size="1",
            disabled=s.selected_count == 0,
            id="clear-selection",
        ),
        rx.button(
            "Delete selected",
            on_click=s.ask("selected"),
            color_scheme="red",
            variant="soft",
            size="1",
            disabled=s.selected_count == 0,
            id="delete-selected",
        ),
        rx.button(
            "Delete every task in this status",
            on_click=s.ask("status"),
            color_scheme="red",
            variant="outline",
            size="1",
            id="delete-status",
        ),
        wrap="wrap",
        spacing="3",
        align="center",
    )


def _confirm() -> rx.Component:
    s = TaskRecordsState
    return confirm_dialog(
        title="Delete tasks?",
        question=rx.cond(
            s.confirm == "selected",
            rx.text("Delete the ", s.selected_count.to_string(), " selected task(s), with their logs and artifacts?"),
            rx.text(
                "Delete all ", s.status_count.to_string(), " ", s.status, " task(s), with their logs and artifacts?"
            ),
        ),
        question_id="records-question",
        is_open=s.confirm != "",
        on_open_change=s.confirm_open_changed,
        on_keep=s.dismiss,
        on_yes=s.confirmed,
        keep_label="Keep them",
        yes_label="Delete",
        yes_id="records-confirm",
    )


@admin_page("/admin/task/", "Task records", on_load=[TaskRecordsState.load])
def records() -> rx.Component:
    s = TaskRecordsState
    return rx.vstack(
        rx.flex(
            rx.heading("Task records", size="6"), rx.spacer(), time_zone_note(), wrap="wrap", spacing="3", width="100%"
        ),
        _toolbar(),
        _selection(),
        rx.cond(
            s.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Select"),
                        *[rx.table.column_header_cell(label) for label, _ in COLUMNS],
                        rx.table.column_header_cell("Created"),
                        rx.table.column_header_cell("Finished"),
                    )
                ),
                rx.table.body(rx.foreach(s.rows, _row)),
                width="100%",
                size="1",
                id="records-table",
                class_name="card-table",
            ),
            rx.callout("No task matches.", icon="search-x", id="records-empty"),
        ),
        rx.hstack(
            rx.button(
                "Previous", on_click=s.previous_page, disabled=s.page <= 1, variant="soft", aria_label="previous page"
            ),
            rx.text("page ", s.page.to_string(), id="records-page"),
            rx.button(
                "Next",
                on_click=s.next_page,
                disabled=~s.has_next,
                variant="soft",
                aria_label="next page",
                id="records-next",
            ),
            align="center",
        ),
        _confirm(),
        spacing="4",
        width="100%",
    )
