"""Small overview charts (recharts): tasks per status, tasks started per minute."""

from __future__ import annotations

import reflex as rx


def status_chart(data: rx.Var) -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.bar(data_key="tasks", fill="var(--accent-9)"),
        rx.recharts.x_axis(data_key="status"),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.graphing_tooltip(),
        data=data,
        height=160,
        width="100%",
    )


def throughput_chart(data: rx.Var) -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.line(data_key="started", stroke="var(--accent-9)"),
        rx.recharts.x_axis(data_key="minute"),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.graphing_tooltip(),
        data=data,
        height=160,
        width="100%",
    )
