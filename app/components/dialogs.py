"""The one confirmation dialog every destructive dashboard action goes through."""

from __future__ import annotations

from typing import Any

import reflex as rx


def confirm_dialog(
    *,
    title: str,
    question: rx.Component | Any,
    is_open: Any,
    on_open_change: Any,
    on_keep: Any,
    on_yes: Any,
    keep_label: str,
    yes_label: str,
    yes_id: str,
    question_id: str | None = None,
) -> rx.Component:
    """A controlled alert dialog: `is_open` comes from state, so a reload or a
    second tab never shows a stale question, and "keep" is the default focus."""
    ids = {"id": question_id} if question_id else {}
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(question, **ids),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(keep_label, variant="soft", on_click=on_keep)),
                rx.alert_dialog.action(rx.button(yes_label, color_scheme="red", on_click=on_yes, id=yes_id)),
                spacing="3",
                justify="end",
            ),
        ),
        open=is_open,
        on_open_change=on_open_change,
    )
