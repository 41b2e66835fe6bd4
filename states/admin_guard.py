"""`AdminState`: the base of every dashboard state, and the guard that makes it one.

Every Reflex event handler is a public endpoint: any browser (or a script on
`/_event`) can name any handler with any arguments. So protection cannot live in
a page's on_load redirect. `AdminGuard` is a Reflex middleware: it sees every
event before Reflex dispatches it, and refuses each one addressed to an
`AdminState` subclass (handlers, background handlers, `setvar`, whatever is
added later) unless the browser holds a valid, unexpired admin session. A
refused event runs nothing, clears that state of anything it held, and sends
the browser to the login page.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from states.admin_session import AdminSessionState, login_url
from tasks.engine import get_engine
from tasks.errors import TaskError

log = logging.getLogger("spyglass.dashboard")


class AdminState(rx.State):
    """Subclass it for any state that shows or changes tasks, tokens or admins."""

    async def _admin_user(self) -> str | None:
        """The logged-in admin, or None; long background handlers re-check with it."""
        return await session_user(self)


async def session_user(state: BaseState) -> str | None:
    session = await state.get_state(AdminSessionState)
    try:
        return await get_engine().admins.authenticate(session.session)
    except TaskError:
        return None
    except Exception:  # the store is away: refuse rather than guess
        log.exception("could not check an admin session")
        return None


def browser_connected(token: str) -> bool:
    """Whether a browser tab with this Reflex token is still connected to this worker:
    a live feed stops when its tab goes away."""
    from reflex.utils.prerequisites import get_app

    namespace = get_app().app.event_namespace
    return namespace is None or token in namespace.token_to_sid


def admin_state_of(event: Event) -> type[AdminState] | None:
    """The AdminState an event is addressed to, or None for any other state."""
    path, _, _handler = event.name.rpartition(".")
    try:
        cls = rx.State.get_class_substate(path)
    except ValueError:
        return None
    return cls if issubclass(cls, AdminState) else None


async def reset_admin_states(state: BaseState) -> None:
    """Forget what every dashboard state held for this browser (logout, expiry)."""
    for cls in all_admin_states():
        substate = await state.get_state(cls)
        substate.reset()


def all_admin_states() -> list[type[AdminState]]:
    found: list[type[AdminState]] = []
    pending: list[type[Any]] = [AdminState]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if not getattr(sub, "_mixin", False):
                found.append(sub)
            pending.append(sub)
    return found


def _page_of(state: BaseState) -> str:
    """The page a browser is on (events chained from on_load carry no router data)."""
    url = state.router.url
    return url.path + (f"?{url.query}" if url.query else "")


class AdminGuard(Middleware):
    async def preprocess(self, app: Any, state: BaseState, event: Event) -> StateUpdate | None:
        target = admin_state_of(event)
        if target is None or await session_user(state) is not None:
            return None
        log.info("refused %s: no valid admin session", event.name)
        substate = await state.get_state(target)
        substate.reset()
        back_to = str(event.router_data.get("asPath") or "") or _page_of(state)
        return StateUpdate(delta={}, events=Event.from_event_type([rx.redirect(login_url(back_to))]))
