"""Charts over the whole store (aggregate queries, following the filters and the
time range): tasks per status coloured by status and numbered, tasks started and
finished per minute or hour (empty buckets as zero), run-time percentiles."""

from __future__ import annotations

import reflex as rx

from states.task_list import DurationRow, TaskListState

# Axis labels in the browser's time zone.
BUCKET_LABEL = (
    "(v) => { const d = new Date(v); return d.toLocaleString([], "
    "{month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'}); }"
)


def status_chart() -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.bar(
            rx.foreach(TaskListState.status_counts, lambda d: rx.recharts.cell(fill=d["fill"])),
            rx.recharts.label_list(data_key="tasks", position="top"),
            data_key="tasks",
            name="tasks",
            is_animation_active=False,
        ),
        rx.recharts.x_axis(
            data_key="status", interval=0, angle=-30, text_anchor="end", height=56, tick={"fontSize": 11}
        ),
        rx.recharts.y_axis(allow_decimals=False, width=40),
        rx.recharts.graphing_tooltip(),
        data=TaskListState.status_counts,
        height=200,
        width="100%",
        margin={"top": 20, "right": 8, "left": 0, "bottom": 0},
    )


def throughput_chart() -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.line(data_key="started", stroke="var(--accent-9)", dot=False, is_animation_active=False),
        rx.recharts.line(data_key="finished", stroke="var(--green-9)", dot=False, is_animation_active=False),
        rx.recharts.x_axis(data_key="at", tick_formatter=BUCKET_LABEL, min_tick_gap=24, tick={"fontSize": 11}),
        rx.recharts.y_axis(allow_decimals=False, width=40),
        rx.recharts.graphing_tooltip(label_formatter=BUCKET_LABEL),
        rx.recharts.legend(),
        data=TaskListState.throughput,
        height=200,
        width="100%",
    )


def _duration_row(row: DurationRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.name), data_label="Task"),
        rx.table.cell(row.finished, data_label="Finished"),
        rx.table.cell(row.p50, data_label="p50"),
        rx.table.cell(row.p90, data_label="p90"),
        rx.table.cell(row.p99, data_label="p99"),
    )


def durations_table() -> rx.Component:
    return rx.cond(
        TaskListState.durations.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(*[rx.table.column_header_cell(h) for h in ["Task", "Finished", "p50", "p90", "p99"]])
                ),
                rx.table.body(rx.foreach(TaskListState.durations, _duration_row)),
                size="1",
                width="100%",
                id="durations",
                class_name="card-table",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.text("No finished task in this view yet.", size="2", color_scheme="gray"),
    )


def charts() -> rx.Component:
    return rx.grid(
        rx.card(rx.text("Tasks per status", size="2", weight="bold"), status_chart(), id="chart-status"),
        rx.card(
            rx.text("Started and finished per ", TaskListState.bucket, size="2", weight="bold"),
            throughput_chart(),
            id="chart-throughput",
        ),
        rx.card(rx.text("Run time per task", size="2", weight="bold"), durations_table(), id="chart-durations"),
        columns=rx.breakpoints(initial="1", md="3"),
        spacing="3",
        width="100%",
    )
