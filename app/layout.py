"""`admin_page`: the dashboard layout, as a decorator around `rx.page`. Every page
it wraps checks the admin session on load (the data itself is guarded in
states/admin_guard.py). The navigation wraps on a phone instead of scrolling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from states.admin_session import AdminSessionState

NAV = [
    ("Tasks", "/admins/tasks/", "list"),
    ("Start", "/admins/start/", "play"),
    ("Workers", "/admins/workers/", "server"),
    ("Tokens", "/admins/tokens/", "key-round"),
    ("Records", "/admin/task/", "database"),
]


def _nav() -> rx.Component:
    return rx.el.nav(_nav_links(), aria_label="dashboard")


def _nav_links() -> rx.Component:
    return rx.flex(
        rx.link(
            rx.text("SpyGlass", size="5", weight="bold"),
            href="/admins/tasks/",
            underline="none",
            aria_label="SpyGlass home",
        ),
        *[
            rx.link(
                rx.hstack(rx.icon(icon, size=16, aria_hidden="true"), rx.text(label), spacing="1", align="center"),
                href=href,
                size="3",
                class_name="nav-link",
            )
            for label, href, icon in NAV
        ],
        rx.spacer(display=["none", "none", "block"]),
        rx.hstack(
            rx.text(AdminSessionState.user, color_scheme="gray", size="2", aria_label="logged in as"),
            rx.button("Log out", on_click=AdminSessionState.logout, variant="soft", size="1", id="logout"),
            align="center",
        ),
        align="center",
        wrap="wrap",
        spacing="4",
        width="100%",
        padding="0.75em 1em",
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
                    rx.box(content(), padding=["0.75em", "1em", "1.5em"], as_="main"),
                    rx.center(rx.spinner(), padding="4em"),
                ),
            )

        page.__name__ = content.__name__
        return page

    return decorate
