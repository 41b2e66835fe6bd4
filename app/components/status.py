"""How a task's state reads at a glance: a badge with an icon and the word (colour
is never the only signal), and a progress bar with its percentage."""

from __future__ import annotations

import reflex as rx

STATUS_ICONS = {
    "Pending": "clock",
    "Starting": "loader",
    "Processing": "loader",
    "Completed": "circle-check",
    "Error": "circle-x",
    "Cancelled": "ban",
    "Interrupted": "zap-off",
}


def status_badge(status: rx.Var[str] | str, color: rx.Var[str] | str) -> rx.Component:
    icon = rx.match(
        status,
        *[(name, rx.icon(icon, size=12, aria_hidden="true")) for name, icon in STATUS_ICONS.items()],
        rx.icon("circle", size=12),
    )
    return rx.badge(icon, status, color_scheme=color, variant="soft", class_name="status-badge")


def progress_bar(progress: rx.Var[int] | int, label: str = "progress") -> rx.Component:
    return rx.hstack(
        rx.progress(value=progress, max=100, width="100%", min_width="4em", aria_label=label),
        rx.text(progress.to_string() + "%", size="1", class_name="progress-text", min_width="3em"),
        align="center",
        width="100%",
    )


def short_task_id(task_id: rx.Var[str]) -> rx.Component:
    """A task id by its last ten characters: its first eleven are its creation time,
    alike for tasks started together (tasks/ids.py)."""
    return rx.code(task_id[-10:])


def local_time(value: rx.Var[str] | str, with_date: bool = True) -> rx.Component:
    """An ISO 8601 time shown in the browser's own time zone."""
    fmt = "YYYY-MM-DD HH:mm:ss" if with_date else "HH:mm:ss"
    return rx.cond(value != "", rx.moment(value, format=fmt, class_name="local-time"), rx.text("—", as_="span"))


def ticking_duration(duration: rx.Var[str], started: rx.Var[str]) -> rx.Component:
    """A finished task's run time; a running one's ticks in the browser every second."""
    return rx.cond(
        duration != "",
        rx.text(duration, as_="span"),
        rx.cond(
            started != "",
            running_for(started),
            rx.text("—", as_="span"),
        ),
    )


def running_for(started: rx.Var[str]) -> rx.Component:
    """Time since `started`, recomputed by the browser every second ("1 min 5 s")."""
    return rx.moment(
        started,
        duration_from_now=True,
        format="h [h] m [min] s [s]",
        trim="large",
        interval=1000,
        class_name="ticking-duration",
    )


def time_zone_note() -> rx.Component:
    return rx.text(
        "Times in your time zone (",
        rx.moment(format="[UTC]Z", interval=0),
        ")",
        size="1",
        color_scheme="gray",
        id="time-zone",
    )


def notice(icon: str, color: str, *children: rx.Component | rx.Var | str, **props: object) -> rx.Component:
    """A callout holding any components (a link, a button), not only text."""
    return rx.callout.root(
        rx.callout.icon(rx.icon(icon, aria_hidden="true")),
        rx.callout.text(*children),
        color_scheme=color,
        **props,
    )
