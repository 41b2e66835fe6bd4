"""The admin login page."""

from __future__ import annotations

import reflex as rx

from states.admin_session import LOGIN_ROUTE, AdminSessionState


@rx.page(route=LOGIN_ROUTE, title="Log in · SpyGlass")
def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("SpyGlass admin", size="6"),
                    rx.input(name="user", placeholder="user", id="user", width="100%", required=True),
                    rx.input(
                        name="password",
                        placeholder="password",
                        type="password",
                        id="password",
                        width="100%",
                        required=True,
                    ),
                    rx.cond(
                        AdminSessionState.login_error != "",
                        rx.callout(AdminSessionState.login_error, color_scheme="red", id="login-error"),
                    ),
                    rx.button("Log in", type="submit", width="100%", id="login"),
                    rx.text(
                        "First time? Create an admin: python -m tasks admin create <user>",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="3",
                    width="20em",
                ),
                on_submit=AdminSessionState.login,
            )
        ),
        height="100vh",
    )
