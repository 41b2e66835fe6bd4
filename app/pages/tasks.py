"""/admins/tasks/: the live task monitor."""

from __future__ import annotations

import reflex as rx

from app.components.charts import status_chart, throughput_chart
from app.components.start_form import start_form
from app.components.tasks import task_detail, task_table
from app.layout import admin_page
from states.start_form import StartFormState
from states.task_monitor import TaskMonitorState
from tasks.engine import get_engine
from tasks.status import TaskStatus


def _filters() -> rx.Component:
    return rx.hstack(
        rx.select(TaskMonitorState.state_options, value=TaskMonitorState.state_filter, on_change=TaskMonitorState.set_state_filter, id="filter-state"),
        rx.select(["all", *(s.value for s in TaskStatus)], value=TaskMonitorState.status_filter, on_change=TaskMonitorState.set_status_filter, id="filter-status"),
        rx.select(TaskMonitorState.client_options, value=TaskMonitorState.client_filter, on_change=TaskMonitorState.set_client_filter, id="filter-client"),
        rx.input(placeholder="search", value=TaskMonitorState.search, on_change=TaskMonitorState.set_search, id="search"),
        rx.cond(TaskMonitorState.notice != "", rx.text(TaskMonitorState.notice, size="2", color_scheme="gray", id="notice")),
        spacing="3",
        align="center",
    )


def _panels() -> rx.Component:
    engine = get_engine()
    panels = [spec.tasks and next(iter(spec.tasks.values())).owner_class.panel(spec.name) for spec in engine.registry.states()]
    return rx.grid(*panels, columns="3", spacing="3", width="100%")


@admin_page("/admins/tasks/", "Live tasks", on_load=[TaskMonitorState.watch, StartFormState.load])
def tasks() -> rx.Component:
    return rx.vstack(
        rx.grid(
            rx.card(rx.text("Tasks per status", size="2", weight="bold"), status_chart(TaskMonitorState.status_counts)),
            rx.card(rx.text("Tasks started per minute", size="2", weight="bold"), throughput_chart(TaskMonitorState.per_minute)),
            columns="2",
            spacing="3",
            width="100%",
        ),
        _filters(),
        rx.cond(TaskMonitorState.selected.task_id != "", task_detail(TaskMonitorState.selected)),
        task_table(TaskMonitorState.visible_rows),
        start_form(),
        _panels(),
        spacing="4",
        width="100%",
    )
