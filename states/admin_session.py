"""`AdminSessionState`: who is logged in to the dashboard, and the login form.

Its handlers are the only dashboard handlers open to anonymous browsers (one
cannot log in otherwise); none of them reads or changes tasks or tokens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import reflex as rx

from tasks.engine import get_engine
from tasks.errors import TaskError

LOGIN_ROUTE = "/admins/login"
HOME_ROUTE = "/admins/tasks/"
DASHBOARD_PREFIXES = ("/admins/", "/admin/")


def login_url(back_to: str) -> str:
    """The login page, set to return to `back_to` (a dashboard page) afterwards."""
    if back_to.startswith(DASHBOARD_PREFIXES) and not back_to.startswith(LOGIN_ROUTE):
        return f"{LOGIN_ROUTE}?{urlencode({'next': back_to})}"
    return LOGIN_ROUTE


def safe_next(value: str) -> str:
    """Only a page of this dashboard: never another site (`//evil`, `https:`)."""
    if value.startswith(DASHBOARD_PREFIXES) and "//" not in value and "\\" not in value:
        return value
    return HOME_ROUTE


class AdminSessionState(rx.State):
    """The session token lives in the browser's localStorage; the server keeps only its hash."""

    session: str = rx.LocalStorage("", name="spyglass_admin_session")
    user: str = ""
    login_error: str = ""

    @rx.event
    async def require_admin(self) -> Any:
        """on_load of every dashboard page: no valid session, no page (the data
        itself is guarded in AdminGuard, whatever the page does)."""
        try:
            self.user = await get_engine().admins.authenticate(self.session)
        except TaskError:
            self.user = ""
            url = self.router.url
            return rx.redirect(login_url(url.path + (f"?{url.query}" if url.query else "")))
        return None

    @rx.event
    async def login(self, form: dict[str, Any]) -> Any:
        engine = get_engine()
        address = self.router.session.client_ip or "-"
        try:
            session = await engine.admins.login(
                str(form.get("user", ""))[:64], str(form.get("password", ""))[:1024], address
            )
        except TaskError as exc:
            self.login_error = exc.message
            return None
        self.session, self.user, self.login_error = session.token, session.user, ""
        return rx.redirect(safe_next(self.router.url.query_parameters.get("next", "")))

    @rx.event
    async def logout(self) -> Any:
        from states.admin_guard import reset_admin_states

        if self.session:
            await get_engine().admins.logout(self.session)
        self.session, self.user = "", ""
        await reset_admin_states(self)
        return rx.redirect(LOGIN_ROUTE)
