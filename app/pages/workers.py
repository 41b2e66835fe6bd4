"""/admins/workers/: every backend worker of every host, alive, stopped or dead."""

from __future__ import annotations

import reflex as rx

from app.components.status import local_time, time_zone_note
from app.layout import admin_page
from states.workers_view import WorkerRow, WorkersState

HEADERS = [
    "Worker",
    "Host",
    "Pid",
    "State",
    "Started",
    "Last heartbeat",
    "Stopped",
    "Running",
    "Started tasks",
    "Finished",
]


def _row(worker: WorkerRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(worker.id[:12]), data_label="Worker"),
        rx.table.cell(worker.hostname, data_label="Host"),
        rx.table.cell(worker.pid, data_label="Pid"),
        rx.table.cell(
            rx.badge(
                rx.match(
                    worker.status,
                    ("alive", rx.icon("heart-pulse", size=12, aria_hidden="true")),
                    ("dead", rx.icon("skull", size=12, aria_hidden="true")),
                    rx.icon("circle-stop", size=12, aria_hidden="true"),
                ),
                worker.status,
                color_scheme=worker.color,
                variant="soft",
            ),
            data_label="State",
        ),
        rx.table.cell(local_time(worker.started), data_label="Started"),
        rx.table.cell(local_time(worker.heartbeat), data_label="Last heartbeat"),
        rx.table.cell(local_time(worker.stopped), data_label="Stopped"),
        rx.table.cell(worker.running, data_label="Running"),
        rx.table.cell(worker.started_tasks, data_label="Started tasks"),
        rx.table.cell(worker.finished, data_label="Finished"),
        class_name="worker-row",
        data_worker=worker.id,
        data_status=worker.status,
    )


@admin_page("/admins/workers/", "Workers", on_load=[WorkersState.load])
def workers_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading("Workers", size="6"),
            rx.text(WorkersState.summary, size="2", color_scheme="gray", id="workers-summary"),
            rx.spacer(),
            time_zone_note(),
            wrap="wrap",
            spacing="3",
            align="center",
            width="100%",
        ),
        rx.text(
            "A worker that stops heartbeating for ",
            WorkersState.dead_after,
            " is dead: the survivors mark its running tasks Interrupted.",
            size="2",
            color_scheme="gray",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in HEADERS])),
            rx.table.body(rx.foreach(WorkersState.workers, _row)),
            width="100%",
            size="1",
            id="worker-table",
            class_name="card-table",
        ),
        spacing="4",
        width="100%",
    )
