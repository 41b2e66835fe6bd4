"""`admin_page`: the dashboard layout, as a decorator around `rx.page`. Every page
it wraps checks the admin session first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from states.admin_session import AdminSessionState

NAV = [("Live tasks", "/admins/tasks/"), ("Client tokens", "/admins/tokens/"), ("Records", "/admin/task/")]


def _nav() -> rx.Component:
    return rx.hstack(
        rx.heading("SpyGlass", size="5"),
        *[rx.link(label, href=href, size="3") for label, href in NAV],
        rx.spacer(),
        rx.text(AdminSessionState.user, color_scheme="gray", size="2"),
        rx.button("Log out", on_click=AdminSessionState.logout, variant="soft", size="1", id="logout"),
        align="center",
        spacing="5",
        width="100%",
        padding="1em",
        border_bottom="1px solid var(--gray-a5)",
    )


def admin_page(
    route: str, title: str, on_load: list[Any] | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    loads = [AdminSessionState.require_admin, *(on_load or [])]

    def decorate(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @rx.page(route=route, title=f"{title} · SpyGlass", on_load=loads)
        def page() -> rx.Component:
            return rx.box(
                _nav(),
                rx.cond(
                    AdminSessionState.user != "",
                    rx.box(content(), padding="1.5em", width="100%"),
                    rx.center(rx.spinner(), padding="4em"),
                ),
                width="100%",
            )

        page.__name__ = content.__name__
        return page

    return decorate
