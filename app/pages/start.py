"""/admins/start/: start any task from a form built from its argument schema."""

from __future__ import annotations

import reflex as rx

from app.components.start_form import start_form
from app.layout import admin_page
from states.start_form import StartFormState


@admin_page("/admins/start/", "Start a task", on_load=[StartFormState.load])
def start_page() -> rx.Component:
    return rx.vstack(rx.heading("Start a task", size="6"), start_form(), spacing="4", width="100%")
