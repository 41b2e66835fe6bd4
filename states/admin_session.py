"""`AdminSessionState`: who is logged in to the dashboard, and the login form."""

from __future__ import annotations

from typing import Any

import reflex as rx

from tasks.engine import get_engine
from tasks.errors import TaskError

LOGIN_ROUTE = "/admins/login"


class AdminSessionState(rx.State):
    """The session token lives in the browser's localStorage; the server keeps only its hash."""

    session: str = rx.LocalStorage("", name="spyglass_admin_session")
    user: str = ""
    login_error: str = ""

    @rx.event
    async def require_admin(self) -> Any:
        """on_load of every dashboard page: no valid session, no page."""
        try:
            self.user = await get_engine().admins.authenticate(self.session)
        except TaskError:
            self.user = ""
            return rx.redirect(LOGIN_ROUTE)
        return None

    @rx.event
    async def login(self, form: dict[str, Any]) -> Any:
        engine = get_engine()
        address = self.router.headers.host or "-"
        try:
            session = await engine.admins.login(str(form.get("user", "")), str(form.get("password", "")), address)
        except TaskError as exc:
            self.login_error = exc.message
            return None
        self.session, self.user, self.login_error = session.token, session.user, ""
        return rx.redirect("/admins/tasks/")

    @rx.event
    async def logout(self) -> Any:
        if self.session:
            await get_engine().admins.logout(self.session)
        self.session, self.user = "", ""
        return rx.redirect(LOGIN_ROUTE)
