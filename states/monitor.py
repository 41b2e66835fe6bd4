"""`MonitorState`: the base of every state that owns monitored tasks.

Static tasks run on the engine directly. Instance tasks (`async def t(self, task,
...)`) run as Reflex background events on the owning client's state instance, so
`self` is a real state, `async with self:` works, and every browser showing that
client sees its vars change live.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import reflex as rx
from reflex_base.event import Event

from states.admin_guard import session_user
from tasks.decorator import TASK_MARKER, task_options
from tasks.engine import get_engine
from tasks.errors import TaskError
from tasks.live import LiveTask
from tasks.registry import ORIGINAL_TASK_FN
from tasks.text import names_nothing_stored

CLIENT_TOKEN_PREFIX = "spyglass-client-"

log = logging.getLogger("spyglass.states")


def client_state_token(client: str) -> str:
    """The Reflex client token holding a SpyGlass client's states: derived from a
    secret (no browser can claim it by guessing), hex only (a valid link token)."""
    return get_engine().client_state_token(client)


class _QuietHeadlessClients(logging.Filter):
    """API clients have no browser attached: Reflex's 'delta to disconnected
    client' warning is expected for them and would flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.getMessage().startswith("Attempting to send delta") and CLIENT_TOKEN_PREFIX in record.getMessage()
        )


logging.getLogger("reflex.app").addFilter(_QuietHeadlessClients())


def _background_entry(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
    """The Reflex background event that runs `fn` for an engine task id."""

    async def entry(self: MonitorState, task_id: str, nonce: str = "") -> None:
        engine = get_engine()
        live = engine.runner.live(task_id) if isinstance(task_id, str) else None
        if live is None or not isinstance(nonce, str) or not secrets.compare_digest(nonce, live.launch_nonce):
            # Only the engine starts instance tasks (with the nonce it gave the event):
            # a browser naming this handler gets nothing to run.
            log.warning("refused %s from a browser: instance tasks start through the API", fn.__qualname__)
            return

        async def call(*args: Any) -> Any:
            return await fn(self, *args)

        await engine.runner.run_instance(task_id, call)

    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(entry, attr, getattr(fn, attr))
    setattr(entry, TASK_MARKER, task_options(fn))
    setattr(entry, ORIGINAL_TASK_FN, fn)
    return rx.event(background=True)(entry)


def _watch_client_handler(cls: type) -> Callable[..., Awaitable[None]]:
    """Each subclass gets its own `watch_client` event (Reflex registers handlers
    per class, and linking is per class too)."""

    async def watch_client(self: MonitorState, client: str, token: str = "") -> None:
        """Link this session's view to a client's instance: from then on it shows,
        and live-updates with, that client's instance tasks. Only for a browser that
        proves it may: with one of that client's tokens, or an admin session."""
        engine = get_engine()
        allowed = False
        if token and isinstance(token, str):
            try:
                allowed = (await engine.authenticate(token)).name == client
            except TaskError:
                allowed = False
        if not allowed:
            allowed = await session_user(self) is not None
        if not allowed or not isinstance(client, str) or names_nothing_stored(client):
            log.warning("refused to link a browser to a client it did not prove it may see")
            return
        await self._link_to(client_state_token(client))

    watch_client.__qualname__ = f"{cls.__qualname__}.watch_client"
    watch_client.__module__ = cls.__module__
    return watch_client


class MonitorState(rx.SharedState):
    """Subclass it and decorate async methods with `@monitored_background_task`.

    The route name of its tasks is the module's name under `states/`; set
    `route_name` on the subclass to choose another.
    """

    route_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        for name, value in list(vars(cls).items()):
            if not isinstance(value, staticmethod) and task_options(value) is not None:
                setattr(cls, name, _background_entry(value))
        if "watch_client" not in vars(cls):
            cls.watch_client = _watch_client_handler(cls)
        super().__init_subclass__(**kwargs)

    @classmethod
    def panel(cls, state_name: str) -> rx.Component:
        """This state's card on the task monitor: its newest tasks, each with its bar.
        Override it in a subclass to show something of its own."""
        from app.components.status import progress_bar, status_badge
        from states.task_list import TaskListState

        def line(row: Any) -> rx.Component:
            return rx.cond(
                row.state == state_name,
                rx.vstack(
                    rx.hstack(
                        rx.link(rx.text(row.task, size="1"), href="/admins/tasks/" + row.task_id),
                        rx.spacer(),
                        status_badge(row.status, row.color),
                        width="100%",
                        align="center",
                    ),
                    progress_bar(row.progress),
                    spacing="1",
                    width="100%",
                    class_name="panel-row",
                    data_task_id=row.task_id,
                ),
            )

        return rx.card(
            rx.vstack(
                rx.heading(state_name, size="3"),
                rx.cond(
                    TaskListState.panel_states.contains(state_name),
                    rx.foreach(TaskListState.panel_rows, line),
                    rx.text("No task yet.", size="1", color_scheme="gray"),
                ),
                width="100%",
            ),
            width="100%",
            class_name="state-panel",
            data_state=state_name,
        )


def reflex_launcher(app: rx.App) -> Callable[[LiveTask], Awaitable[None]]:
    """Starts an instance task as a background event on its client's state, with
    no browser involved (`app.event_processor.enqueue`)."""

    async def launch(live: LiveTask) -> None:
        if live.record.client is None:
            raise RuntimeError("an instance task needs an owning client")
        state_cls = live.spec.state_class
        payload = {"task_id": live.record.id, "nonce": live.launch_nonce}
        event = Event(name=f"{state_cls.get_full_name()}.{live.spec.name}", payload=payload)
        await app.event_processor.enqueue(client_state_token(live.record.client), event)

    return launch
