"""WebSocket routes: a task's snapshot, then its events as they happen."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from tasks.engine import Engine
from tasks.errors import TaskError
from tasks.streams import task_events

WS_CLOSE_CODES = {400: 4400, 401: 4401, 404: 4404, 409: 4409, 422: 4422, 429: 4429, 503: 4503}


async def close_with_error(ws: WebSocket, exc: TaskError) -> None:
    """Errors close the socket with 4000 + the HTTP status and the message as reason."""
    if ws.client_state is WebSocketState.CONNECTING:
        await ws.accept()
    await ws.close(code=WS_CLOSE_CODES.get(exc.http_status, 4400), reason=exc.message[:120])


def _after_param(ws: WebSocket) -> int | None:
    raw = ws.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise TaskError("after must be an event id (a non-negative integer)")
    return int(raw)


async def stream_task(ws: WebSocket, engine: Engine, task_id: str, state: str | None) -> None:
    """Sends until the terminal event, then closes normally (1000). A reader
    task notices a client that goes away while the task is quiet."""
    await ws.accept()
    gone = asyncio.Event()

    async def watch_client() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
        gone.set()

    watcher = asyncio.create_task(watch_client())
    close: TaskError | None = None
    try:
        async for event in task_events(engine, task_id, after=_after_param(ws), state=state, keepalive=1.0):
            if gone.is_set():
                return
            if event is not None:
                await ws.send_json(event.wire())
    except TaskError as exc:
        close = exc
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if close is not None:
        await close_with_error(ws, close)
    else:
        await ws.close(code=1000)


def ws_router(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/{state}/task/ws/{task_id}")
    async def task_ws(ws: WebSocket, state: str, task_id: str) -> None:
        try:
            engine.registry.state(state)
        except TaskError as exc:
            await close_with_error(ws, exc)
            return
        await stream_task(ws, engine, task_id, state)

    return router
