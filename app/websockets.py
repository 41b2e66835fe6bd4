"""WebSocket routes: a snapshot first, then events as they happen.

Errors close the socket with 4000 + the HTTP status (4401, 4404, ...) and the
message as reason. Token streams re-check their token every half second, so a
revoked token's open streams close within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from app.routes import bearer_token
from tasks.engine import Access, Engine
from tasks.errors import TaskError
from tasks.events import TaskEvent
from tasks.streams import ClientSnapshot, client_events, task_events

WS_CLOSE_CODES = {400: 4400, 401: 4401, 404: 4404, 409: 4409, 422: 4422, 429: 4429, 503: 4503}
KEEPALIVE_SECONDS = 0.5


class BadAfter(TaskError):
    code = "invalid_request"


async def close_with_error(ws: WebSocket, exc: TaskError) -> None:
    if ws.client_state is WebSocketState.CONNECTING:
        await ws.accept()
    await ws.close(code=WS_CLOSE_CODES.get(exc.http_status, 4400), reason=exc.message[:120])


def _after_param(ws: WebSocket) -> int | None:
    raw = ws.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadAfter("after must be an event id (a non-negative integer)")
    return int(raw)


class TokenGuard:
    """Re-authenticates a stream's token at most every `period` seconds."""

    def __init__(self, engine: Engine, token: str, period: float = KEEPALIVE_SECONDS) -> None:
        self.engine = engine
        self.token = token
        self.period = period
        self.checked = time.monotonic()

    async def check(self) -> None:
        if time.monotonic() - self.checked >= self.period:
            await self.engine.access_for(self.token)
            self.checked = time.monotonic()


async def pump(ws: WebSocket, stream: AsyncIterator[TaskEvent | ClientSnapshot | None], guard: TokenGuard | None) -> None:
    """Sends the stream until it ends (then closes 1000), the client leaves, or an
    error closes it with its 4xxx code. A reader notices a client that goes away
    while the stream is quiet."""
    gone = asyncio.Event()

    async def watch_client() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        gone.set()

    watcher = asyncio.create_task(watch_client())
    failure: TaskError | None = None
    try:
        async for item in stream:
            if gone.is_set():
                return
            if guard is not None:
                await guard.check()
            if item is not None:
                await ws.send_text(json.dumps(item.wire(), separators=(",", ":")))
    except TaskError as exc:
        failure = exc
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if failure is not None:
        await close_with_error(ws, failure)
    else:
        await ws.close(code=1000)


def ws_router(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/{state}/task/ws/{task_id}")
    async def task_ws(ws: WebSocket, state: str, task_id: str) -> None:
        """One task; a Bearer token (header) also shows that client's own tasks."""
        try:
            engine.registry.state(state)
            token = bearer_token(ws.headers)
            access = await engine.access_for(token, state)
            after = _after_param(ws)
        except TaskError as exc:
            await close_with_error(ws, exc)
            return
        await ws.accept()
        guard = TokenGuard(engine, token) if token is not None else None
        await pump(ws, task_events(engine, task_id, after=after, access=access, keepalive=KEEPALIVE_SECONDS), guard)

    @router.websocket("/ws/{state}/tasks/{client_token}/{task_id}")
    async def client_task_ws(ws: WebSocket, state: str, client_token: str, task_id: str) -> None:
        """One task of the token's client; closes after its terminal event."""
        try:
            engine.registry.state(state)
            client = await engine.authenticate(client_token)
            after = _after_param(ws)
        except TaskError as exc:
            await close_with_error(ws, exc)
            return
        await ws.accept()
        access = Access(state=state, client=client.name, owned=True)
        stream = task_events(engine, task_id, after=after, access=access, keepalive=KEEPALIVE_SECONDS)
        await pump(ws, stream, TokenGuard(engine, client_token))

    @router.websocket("/ws/{state}/tasks/{client_token}")
    async def client_ws(ws: WebSocket, state: str, client_token: str) -> None:
        """Every task of the token's client in this state, live, until the client closes."""
        try:
            engine.registry.state(state)
            client = await engine.authenticate(client_token)
        except TaskError as exc:
            await close_with_error(ws, exc)
            return
        await ws.accept()
        stream = client_events(engine, client.name, state, keepalive=KEEPALIVE_SECONDS)
        await pump(ws, stream, TokenGuard(engine, client_token))

    return router
