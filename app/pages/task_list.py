"""/admins/tasks/: the task monitor: charts, filters (kept in the URL), the live
list with its count and pager, bulk actions, and one panel per task state."""

from __future__ import annotations

import reflex as rx

from app.components.charts import charts
from app.components.status import time_zone_note
from app.components.task_list import bulk_actions, filters, task_list
from app.layout import admin_page
from states.task_list import TaskListState
from tasks.engine import get_engine


def _panels() -> rx.Component:
    specs = [spec for spec in get_engine().registry.states() if spec.tasks]
    panels = [next(iter(spec.tasks.values())).state_class.panel(spec.name) for spec in specs]
    return rx.grid(*panels, columns=rx.breakpoints(initial="1", sm="2", lg="3"), spacing="3", width="100%")


@admin_page("/admins/tasks/", "Tasks", on_load=[TaskListState.load])
def task_list_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading("Tasks", size="6"),
            rx.text(TaskListState.range_label, size="2", color_scheme="gray"),
            rx.spacer(),
            time_zone_note(),
            rx.link(rx.button(rx.icon("play", size=14), "Start a task", variant="soft"), href="/admins/start/"),
            wrap="wrap",
            spacing="3",
            align="center",
            width="100%",
        ),
        charts(),
        filters(),
        bulk_actions(),
        task_list(),
        rx.heading("By state", size="4"),
        _panels(),
        spacing="4",
        width="100%",
    )
