"""Task views: status badge, progress row, the live table, the detail panel."""

from __future__ import annotations

import reflex as rx

from states.task_monitor import TaskDetailView, TaskMonitorState, TaskRow


def status_badge(status: rx.Var[str]) -> rx.Component:
    color = rx.match(
        status,
        ("Completed", "green"),
        ("Error", "red"),
        ("Cancelled", "gray"),
        ("Interrupted", "orange"),
        ("Processing", "blue"),
        "amber",
    )
    return rx.badge(status, color_scheme=color, variant="soft", class_name="status-badge")


def task_row(row: TaskRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.task_id[:8])),
        rx.table.cell(row.state),
        rx.table.cell(row.task),
        rx.table.cell(row.client),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(
            rx.hstack(
                rx.progress(value=row.progress, max=100, width="10em"),
                rx.text(row.progress.to_string() + "%", size="1", class_name="progress-text"),
                align="center",
            )
        ),
        rx.table.cell(rx.text(row.message, size="1", trim="both")),
        rx.table.cell(row.created),
        rx.table.cell(row.duration),
        on_click=TaskMonitorState.select(row.task_id),
        cursor="pointer",
        class_name="task-row",
        data_task_id=row.task_id,
        data_status=row.status,
    )


def task_table(rows: rx.Var[list[TaskRow]]) -> rx.Component:
    headers = ["Id", "State", "Task", "Client", "Status", "Progress", "Message", "Created", "Duration"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, task_row)),
        width="100%",
        size="1",
        id="task-table",
    )


def _log_line(line: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(line.time, size="1", color_scheme="gray"),
        rx.badge(line.level, size="1"),
        rx.text(line.message, size="1"),
        spacing="2",
    )


def task_detail(detail: TaskDetailView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(detail.state + "." + detail.task, size="4"),
                status_badge(detail.status),
                rx.spacer(),
                rx.icon_button(rx.icon("x"), on_click=TaskMonitorState.close_detail, variant="ghost"),
                width="100%",
            ),
            rx.text("task ", rx.code(detail.task_id), " · client ", detail.client, size="2"),
            rx.progress(value=detail.progress.to(int), max=100, width="100%"),
            rx.text("Arguments", weight="bold", size="2"),
            rx.code_block(detail.args, language="json", width="100%"),
            rx.cond(detail.result != "", rx.vstack(rx.text("Result", weight="bold", size="2"), rx.code_block(detail.result, language="json", width="100%"), id="detail-result", width="100%")),
            rx.cond(detail.error != "", rx.callout(detail.error, color_scheme="red", id="detail-error")),
            rx.text("Logs", weight="bold", size="2"),
            rx.scroll_area(rx.vstack(rx.foreach(detail.logs, _log_line), spacing="1"), max_height="12em"),
            rx.cond(
                detail.artifacts.length() > 0,
                rx.vstack(
                    rx.text("Artifacts", weight="bold", size="2"),
                    rx.foreach(detail.artifacts, lambda a: rx.link(a.name, href=a.url, is_external=True)),
                ),
            ),
            rx.cond(
                detail.messages.length() > 0,
                rx.vstack(rx.text("Messages", weight="bold", size="2"), rx.foreach(detail.messages, lambda m: rx.code(m))),
            ),
            rx.cond(
                detail.running,
                rx.hstack(
                    rx.input(
                        placeholder='{"action": "skip"}',
                        value=TaskMonitorState.message_draft,
                        on_change=TaskMonitorState.set_message_draft,
                        width="100%",
                    ),
                    rx.button("Send", on_click=TaskMonitorState.send_message(detail.task_id), variant="soft"),
                    rx.button("Cancel task", on_click=TaskMonitorState.cancel(detail.task_id), color_scheme="red", id="cancel-task"),
                    width="100%",
                ),
                rx.hstack(
                    rx.button("Ack (remove)", on_click=TaskMonitorState.ack(detail.task_id), variant="soft"),
                    rx.button("Delete", on_click=TaskMonitorState.delete(detail.task_id), color_scheme="red", variant="soft"),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="task-detail",
    )
