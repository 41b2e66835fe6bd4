"""`MonitorState`: the base of every state that owns monitored tasks."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx


class MonitorState(rx.State):
    """Subclass it and decorate async methods with `@monitored_background_task`.

    The route name of its tasks is the module's name under `states/`; set
    `route_name` on the subclass to choose another.
    """

    route_name: ClassVar[str | None] = None
