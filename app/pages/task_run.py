"""/admins/tasks/<task_id>: one task's run view, a page of its own (shareable)."""

from __future__ import annotations

import reflex as rx

from app.components.run_view import run_view
from app.layout import admin_page
from states.task_run import TaskRunState


@admin_page("/admins/tasks/[task_id]", "Task run", on_load=[TaskRunState.load])
def task_run_page() -> rx.Component:
    return run_view()
