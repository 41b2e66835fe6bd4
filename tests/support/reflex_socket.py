"""A Reflex browser without the browser: a Socket.IO client on `/_event` that sends
events by handler name, as the frontend (or an attacker's script) does."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import socketio

NAMESPACE = "/_event"  # Reflex's event namespace, on the Socket.IO path of the same name


class ReflexSocket:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token or str(uuid.uuid4())
        self.received: list[dict[str, Any]] = []
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("event", self._on_event, namespace=NAMESPACE)

    async def _on_event(self, update: dict[str, Any]) -> None:
        self.received.append(update)

    async def __aenter__(self) -> ReflexSocket:
        await self.client.connect(
            f"{self.base_url}?token={self.token}",
            socketio_path="_event",
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=10,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.disconnect()

    async def send(self, name: str, payload: dict[str, Any] | None = None, path: str = "/admins/tasks/") -> None:
        router_data = {"pathname": path, "asPath": path, "query": {}}
        event = {"name": name, "payload": payload or {}, "router_data": router_data}
        await self.client.emit("event", event, namespace=NAMESPACE)

    async def settle(self, seconds: float = 1.0) -> None:
        await asyncio.sleep(seconds)

    def text(self) -> str:
        """Everything the server sent this browser, as one string to search."""
        return json.dumps(self.received)
