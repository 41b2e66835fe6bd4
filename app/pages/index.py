"""The landing page: what this server runs and where to go next."""

from __future__ import annotations

import reflex as rx

from tasks.engine import get_engine


def _task_row(state: str, task: str, doc: str, static: bool) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(state), data_label="State"),
        rx.table.cell(rx.code(task), data_label="Task"),
        rx.table.cell(rx.badge("direct" if static else "client token"), data_label="Start"),
        rx.table.cell(doc, data_label="What it does"),
    )


@rx.page(route="/", title="SpyGlass")
def index() -> rx.Component:
    tasks = get_engine().registry.tasks()
    return rx.container(
        rx.vstack(
            rx.heading("SpyGlass", size="8"),
            rx.text("Monitored background tasks: start them over HTTP, watch them live over WebSocket."),
            rx.flex(
                rx.link(
                    rx.button(rx.icon("layout-dashboard", size=16), "Open the dashboard"),
                    href="/admins/tasks/",
                    id="dashboard-link",
                ),
                rx.link("API docs (/docs)", href="/docs", is_external=True),
                wrap="wrap",
                spacing="4",
                align="center",
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("State"),
                        rx.table.column_header_cell("Task"),
                        rx.table.column_header_cell("Start"),
                        rx.table.column_header_cell("What it does"),
                    )
                ),
                rx.table.body(*[_task_row(t.state, t.name, t.doc, t.is_static) for t in tasks]),
                width="100%",
                class_name="card-table",
            ),
            spacing="4",
            padding_y="2em",
        ),
        size="4",
    )
