"""The task monitor's pieces: filters with visible labels, the list (a table on a
wide screen, cards on a phone), the pager and count, and the bulk actions."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.components.status import local_time, notice, progress_bar, short_task_id, status_badge, ticking_duration
from states.task_list import TaskListState
from states.views import ANY, TaskRow
from tasks.status import TaskStatus


def _labelled(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", weight="medium", color_scheme="gray", as_="label"), control, spacing="1")


def _select(
    label: str, items: rx.Var | list[str], value: rx.Var, on_change: rx.EventHandler, element_id: str
) -> rx.Component:
    return _labelled(
        label,
        rx.select.root(
            rx.select.trigger(placeholder=label, id=element_id, aria_label=label, min_width="9em"),
            rx.select.content(
                rx.select.item(f"{label}: any", value=ANY),
                rx.foreach(items, lambda item: rx.select.item(item, value=item)),
            ),
            value=value,
            on_change=on_change,
        ),
    )


def filters() -> rx.Component:
    s = TaskListState
    return rx.vstack(
        rx.flex(
            _select("Status", [status.value for status in TaskStatus], s.status, s.set_status, "filter-status"),
            _select("State", s.states, s.state_filter, s.set_state_filter, "filter-state"),
            _select("Task", s.tasks, s.task_filter, s.set_task_filter, "filter-task"),
            _select("Client", s.clients, s.client, s.set_client, "filter-client"),
            _labelled(
                "Time",
                rx.select.root(
                    rx.select.trigger(id="filter-range", aria_label="time range", min_width="9em"),
                    rx.select.content(rx.foreach(s.range_options, lambda o: rx.select.item(o[1], value=o[0]))),
                    value=s.time_range,
                    on_change=s.set_time_range,
                ),
            ),
            rx.form(
                _labelled(
                    "Search",
                    rx.hstack(
                        rx.input(
                            name="search",
                            default_value=s.search,
                            placeholder="id, arguments, message, result",
                            id="search",
                            aria_label="search tasks",
                            min_width="12em",
                        ),
                        rx.button(
                            rx.icon("search", size=14), "Search", type="submit", variant="soft", aria_label="search"
                        ),
                    ),
                ),
                on_submit=s.set_search,
            ),
            rx.button("Clear filters", on_click=s.clear_filters, variant="ghost", id="clear-filters", align_self="end"),
            wrap="wrap",
            spacing="3",
            align="end",
            width="100%",
        ),
        rx.cond(
            s.time_range == "custom",
            rx.form(
                rx.flex(
                    _labelled(
                        "From",
                        rx.input(type="datetime-local", name="since", id="range-since", default_value=s.since_local),
                    ),
                    _labelled(
                        "To",
                        rx.input(type="datetime-local", name="until", id="range-until", default_value=s.until_local),
                    ),
                    rx.button("Apply", type="submit", variant="soft", align_self="end"),
                    wrap="wrap",
                    spacing="3",
                ),
                on_submit=s.set_custom_range,
            ),
        ),
        width="100%",
    )


def _cell(label: str, content: rx.Component | rx.Var | str, **props: object) -> rx.Component:
    """A cell that, on a phone, reads as a labelled line of a card (assets/dashboard.css)."""
    return rx.table.cell(content, data_label=label, **props)


def _row(row: TaskRow) -> rx.Component:
    return rx.table.row(
        _cell(
            "Id",
            rx.link(
                short_task_id(row.task_id),
                href="/admins/tasks/" + row.task_id,
                class_name="task-link",
                aria_label="open task " + row.task_id,
                on_click=rx.stop_propagation,
            ),
        ),
        _cell("Task", rx.text(row.state + "." + row.task, size="2")),
        _cell("Client", row.client),
        _cell("Status", status_badge(row.status, row.color)),
        _cell("Progress", progress_bar(row.progress), min_width="10em"),
        _cell("Message", rx.text(row.message, size="1", max_width="18em", truncate=True)),
        _cell("Created", local_time(row.created), white_space="nowrap"),
        _cell("Duration", ticking_duration(row.duration, row.started), white_space="nowrap", class_name="duration"),
        on_click=rx.redirect("/admins/tasks/" + row.task_id),
        cursor="pointer",
        class_name="task-row",
        data_task_id=row.task_id,
        data_status=row.status,
    )


HEADERS = ["Id", "Task", "Client", "Status", "Progress", "Message", "Created", "Duration"]


def task_list() -> rx.Component:
    """A table on a wide screen; on a phone each row reads as a card."""
    s = TaskListState
    return rx.vstack(
        rx.cond(
            s.rows.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in HEADERS])),
                rx.table.body(rx.foreach(s.rows, _row)),
                width="100%",
                size="1",
                id="task-table",
                class_name="card-table",
            ),
            notice(
                "search-x",
                "gray",
                "No task matches this view. ",
                rx.button("Clear filters", on_click=s.clear_filters, variant="soft", size="1"),
                id="empty-list",
                width="100%",
            ),
        ),
        rx.flex(
            rx.text(s.shown, size="2", id="task-count", aria_live="polite"),
            rx.spacer(),
            rx.select.root(
                rx.select.trigger(aria_label="rows per page"),
                rx.select.content(
                    rx.foreach(s.page_sizes, lambda size: rx.select.item(size + " per page", value=size))
                ),
                value=s.limit.to_string(),
                on_change=s.set_limit,
            ),
            rx.button(
                "Previous", on_click=s.previous_page, disabled=s.page <= 1, variant="soft", aria_label="previous page"
            ),
            rx.button(
                "Next",
                on_click=s.next_page,
                disabled=~s.has_next,
                variant="soft",
                aria_label="next page",
                id="next-page",
            ),
            wrap="wrap",
            spacing="2",
            align="center",
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


def bulk_actions() -> rx.Component:
    s = TaskListState
    return rx.fragment(
        rx.flex(
            rx.text("On every task of this view:", size="2", color_scheme="gray"),
            rx.button(
                "Cancel running",
                on_click=s.ask_bulk("cancel"),
                variant="soft",
                color_scheme="orange",
                size="1",
                id="bulk-cancel",
            ),
            rx.button("Re-run ended", on_click=s.ask_bulk("rerun"), variant="soft", size="1", id="bulk-rerun"),
            rx.button(
                "Delete ended",
                on_click=s.ask_bulk("delete"),
                variant="soft",
                color_scheme="red",
                size="1",
                id="bulk-delete",
            ),
            wrap="wrap",
            spacing="2",
            align="center",
        ),
        confirm_dialog(
            title="Are you sure?",
            question=rx.match(
                s.bulk_action,
                ("cancel", rx.text("Cancel ", s.bulk_count.to_string(), " running task(s) of this view?")),
                ("rerun", rx.text("Start ", s.bulk_count.to_string(), " ended task(s) of this view again?")),
                rx.text(
                    "Delete ", s.bulk_count.to_string(), " ended task(s) of this view, with their logs and artifacts?"
                ),
            ),
            question_id="bulk-question",
            is_open=s.bulk_action != "",
            on_open_change=s.bulk_open_changed,
            on_keep=s.close_bulk,
            on_yes=s.run_bulk,
            keep_label="Keep them",
            yes_label="Yes",
            yes_id="bulk-confirm",
        ),
    )
