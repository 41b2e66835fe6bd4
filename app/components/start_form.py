"""The start-a-task form, generated from the task's args schema; Start is disabled
while a start is in flight, and the started task links to its run view."""

from __future__ import annotations

import reflex as rx

from app.components.status import notice
from states.start_form import FormField, StartFormState


def _input(field: FormField) -> rx.Component:
    value = StartFormState.values[field.name]
    return rx.match(
        field.kind,
        (
            "boolean",
            rx.switch(
                checked=value == "true",
                on_change=lambda checked: StartFormState.set_value(field.name, rx.cond(checked, "true", "false")),
            ),
        ),
        (
            "integer",
            rx.input(
                type="number",
                step="1",
                value=value,
                on_change=lambda v: StartFormState.set_value(field.name, v),
                name=field.name,
                width="100%",
            ),
        ),
        (
            "number",
            rx.input(
                type="number",
                step="any",
                value=value,
                on_change=lambda v: StartFormState.set_value(field.name, v),
                name=field.name,
                width="100%",
            ),
        ),
        (
            "json",
            rx.text_area(
                value=value, on_change=lambda v: StartFormState.set_value(field.name, v), name=field.name, width="100%"
            ),
        ),
        rx.input(
            value=value, on_change=lambda v: StartFormState.set_value(field.name, v), name=field.name, width="100%"
        ),
    )


def _field(field: FormField) -> rx.Component:
    error = StartFormState.errors[field.name]
    return rx.vstack(
        rx.text(field.label, rx.cond(field.required, " *", ""), size="2", weight="medium"),
        _input(field),
        rx.cond(field.description != "", rx.text(field.description, size="1", color_scheme="gray")),
        rx.cond(
            StartFormState.errors.contains(field.name),
            rx.text(error, color_scheme="red", size="1", class_name="field-error"),
        ),
        spacing="1",
        width="100%",
        class_name="form-field",
        data_field=field.name,
    )


def start_form() -> rx.Component:
    return rx.card(
        rx.grid(
            rx.vstack(
                rx.text("Task", size="2", weight="medium"),
                rx.select(
                    StartFormState.choices,
                    value=StartFormState.choice,
                    on_change=StartFormState.choose,
                    id="task-choice",
                    width="100%",
                ),
                rx.foreach(StartFormState.fields, _field),
                rx.text("Owner (the client the task belongs to)", size="2", weight="medium"),
                rx.select(
                    StartFormState.clients,
                    value=StartFormState.client,
                    on_change=StartFormState.set_client,
                    id="client-choice",
                    width="100%",
                ),
                rx.button(
                    rx.cond(StartFormState.submitting, rx.spinner(size="1"), rx.icon("play", size=14)),
                    "Start",
                    on_click=StartFormState.submit,
                    disabled=StartFormState.submitting,
                    id="start-task",
                    width="100%",
                ),
                rx.cond(
                    StartFormState.failure != "",
                    rx.callout(StartFormState.failure, color_scheme="red", id="start-failure"),
                ),
                rx.cond(
                    StartFormState.started != "",
                    notice(
                        "circle-check",
                        "green",
                        "Started task ",
                        rx.link(
                            rx.code(StartFormState.started),
                            href="/admins/tasks/" + StartFormState.started,
                            id="started-link",
                        ),
                        ": open it to follow its run.",
                        id="start-ok",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            rx.vstack(
                rx.text(StartFormState.doc, weight="medium"),
                rx.cond(
                    StartFormState.instance,
                    rx.text("Runs on the owning client's state (needs a client).", size="1", color_scheme="gray"),
                ),
                rx.markdown(StartFormState.readme),
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="5",
            width="100%",
        ),
        width="100%",
    )
