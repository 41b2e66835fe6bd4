"""A Reflex browser without the browser: a Socket.IO client on `/_event` that sends
events by handler name, as the frontend (or an attacker's script) does."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import socketio

NAMESPACE = "/_event"  # Reflex's event namespace, on the Socket.IO path of the same name


class EscapedJson:
    """JSON as a browser's JSON.stringify writes it, an unpaired surrogate as its
    `\\ud800` escape (a UTF-8 frame cannot carry it raw). Reflex, imported in the
    tests' process, sets Socket.IO's packet JSON to its own, which writes non-ASCII raw."""

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        return json.dumps(value, **{**kwargs, "ensure_ascii": True})

    loads = staticmethod(json.loads)


class EscapedPacket(socketio.packet.Packet):
    """This client's packets only: `AsyncClient(json=...)` would set it on the
    Packet class every Socket.IO user of the process shares."""

    json = EscapedJson


class ReflexSocket:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token or str(uuid.uuid4())
        self.received: list[dict[str, Any]] = []
        self.client = socketio.AsyncClient(reconnection=False, serializer=EscapedPacket)
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

    async def send(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        path: str = "/admins/tasks/",
        query: dict[str, str] | None = None,
    ) -> None:
        """`query` carries the page's query and route parameters, as the browser sends them."""
        router_data = {"pathname": path, "asPath": path, "query": query or {}}
        event = {"name": name, "payload": payload or {}, "router_data": router_data}
        await self.client.emit("event", event, namespace=NAMESPACE)

    async def settle(self, seconds: float = 1.0) -> None:
        await asyncio.sleep(seconds)

    def text(self) -> str:
        """Everything the server sent this browser, as one string to search."""
        return json.dumps(self.received)
