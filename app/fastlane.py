"""API requests and sockets go straight to the API. Reflex serves its app and ours
under one outer Starlette app of its own (error, CORS and exception layers, a
router and a mount) that an API request would cross before reaching ours, which
has the same layers again. That crossing cost about a tenth of a task's server
CPU, and its wrappers sat in the path of every message sent to a WebSocket
watcher. The outer app keeps everything else: the frontend (with its cache
headers), the API docs, Reflex's event socket and the lifespan. (Were Reflex's
OpenTelemetry middleware configured, it would no longer see API requests.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

API_PATHS = ("/api/", "/health", "/ready")
API_SOCKETS = "/ws/"


class ApiFastLane:
    def __init__(self, outer: ASGIApp, api: ASGIApp, set_contexts: Callable[[], Any]) -> None:
        self.outer = outer
        self.api = api
        self.set_contexts = set_contexts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind == "http" and scope["path"].startswith(API_PATHS)) or (
            kind == "websocket" and scope["path"].startswith(API_SOCKETS)
        ):
            self.set_contexts()  # what Reflex's outer app does first for every request
            await self.api(scope, receive, send)
            return
        await self.outer(scope, receive, send)
