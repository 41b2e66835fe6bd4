"""WebSocket routes: a snapshot first, then events as they happen.

Errors close the socket with 4000 + the HTTP status (4400, 4401, 4404, ...) and
the message as reason. Token streams re-check their token (app/stream_guard.py),
so a revoked token's open streams close within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketState

from app.dependencies import EngineDep, resume_point
from app.requests import bearer_token
from app.sse import KEEPALIVE_SECONDS
from app.stream_guard import TokenGuard
from tasks.access import Access
from tasks.auth import Client
from tasks.engine import Engine
from tasks.errors import NotFound, TaskError
from tasks.events import TaskEvent
from tasks.streams import ClientSnapshot, client_events, task_events

WS_CLOSE_CODES = {400: 4400, 401: 4401, 404: 4404, 409: 4409, 422: 4422, 429: 4429, 503: 4503}


async def close_with_error(ws: WebSocket, exc: TaskError) -> None:
    if ws.client_state is WebSocketState.CONNECTING:
        await ws.accept()
    await ws.close(code=WS_CLOSE_CODES.get(exc.http_status, 4400), reason=exc.message[:120])


async def pump(
    ws: WebSocket, stream: AsyncIterator[TaskEvent | ClientSnapshot | None], guard: TokenGuard | None
) -> None:
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
                await ws.send_text(item.wire_text())
    except TaskError as exc:
        failure = exc
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await stream.aclose()  # type: ignore[attr-defined]
    with contextlib.suppress(RuntimeError):
        if failure is not None:
            await close_with_error(ws, failure)
        else:
            await ws.close(code=1000)


router = APIRouter()


async def _resume_point(ws: WebSocket) -> int | None:
    return await resume_point(ws.headers.get("last-event-id"), ws.query_params.get("after"))


async def _open_client_socket(
    ws: WebSocket, engine: Engine, state: str, client_token: str
) -> tuple[Client, int | None] | None:
    """Accepts a client-token socket (its client and resume point), or closes it
    with the 4xxx code of what is wrong and returns None."""
    try:
        engine.registry.state(state)
        client = await engine.authenticate(client_token)
        after = await _resume_point(ws)
    except TaskError as exc:
        await close_with_error(ws, exc)
        return None
    await ws.accept()
    return client, after


@router.websocket("/ws/{state}/task/ws/{task_id}")
async def task_ws(ws: WebSocket, engine: EngineDep, state: str, task_id: str) -> None:
    """One task; a Bearer token (header) shows that client's own tasks instead
    of tokenless ones, an admin session any task. `?after=<id>` resumes."""
    try:
        engine.registry.state(state)
        token = bearer_token(ws.headers)
        access = await engine.access_for(token, state)
        after = await _resume_point(ws)
    except TaskError as exc:
        await close_with_error(ws, exc)
        return
    await ws.accept()
    guard = TokenGuard(engine, token) if token is not None else None
    await pump(ws, task_events(engine, task_id, after=after, access=access, keepalive=KEEPALIVE_SECONDS), guard)


@router.websocket("/ws/{state}/tasks/{client_token}/{task_id}")
async def client_task_ws(ws: WebSocket, engine: EngineDep, state: str, client_token: str, task_id: str) -> None:
    """One task of the token's client; closes after its terminal event."""
    if (opened := await _open_client_socket(ws, engine, state, client_token)) is None:
        return
    client, after = opened
    access = Access(state=state, client=client.name)
    stream = task_events(engine, task_id, after=after, access=access, keepalive=KEEPALIVE_SECONDS)
    await pump(ws, stream, TokenGuard(engine, client_token))


@router.websocket("/ws/{state}/tasks/{client_token}")
async def client_ws(ws: WebSocket, engine: EngineDep, state: str, client_token: str) -> None:
    """Every task of the token's client in this state, live, until the client closes."""
    if (opened := await _open_client_socket(ws, engine, state, client_token)) is None:
        return
    client, after = opened
    stream = client_events(engine, client.name, state, after=after, keepalive=KEEPALIVE_SECONDS)
    await pump(ws, stream, TokenGuard(engine, client_token))


@router.websocket("/ws/{path:path}")
async def unknown_ws(ws: WebSocket, path: str) -> None:
    await close_with_error(ws, NotFound(f"no WebSocket route /ws/{path}", hint="see the README's API table"))


class UnknownWebSocketPaths:
    """Outside /ws/ (ours) and Reflex's own socket, a WebSocket handshake gets a
    4404 close with a reason instead of a bare 403."""

    def __init__(self, app: ASGIApp, known_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.known = known_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"].startswith(self.known):
            await self.app(scope, receive, send)
            return
        ws = WebSocket(scope, receive, send)
        await close_with_error(ws, NotFound(f"no WebSocket route {scope['path']}"))
