"""Server-Sent Events: the same event streams as the WebSockets, as `text/event-stream`.

Each event has `id:` (resume with `Last-Event-ID`), `event:` (its type) and one
JSON `data:` line. Idle streams get a `: keepalive` comment every
SPYGLASS_SSE_HEARTBEAT_SECONDS so proxies keep them open. An error after the
stream began arrives as an `error` event, then the stream ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from app.websockets import TokenGuard
from tasks.errors import InvalidRequest, TaskError
from tasks.events import TaskEvent
from tasks.streams import ClientSnapshot

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def last_event_id(request: Request) -> int | None:
    """`Last-Event-ID` header (what browsers send on reconnect), else `?after=`."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise InvalidRequest("Last-Event-ID / after must be an event id (a non-negative integer)")
    return int(raw)


def sse_message(item: TaskEvent | ClientSnapshot) -> str:
    data = json.dumps(item.wire(), separators=(",", ":"))
    return f"id: {item.id}\nevent: {item.type}\ndata: {data}\n\n"


async def sse_response(
    stream: AsyncIterator[TaskEvent | ClientSnapshot | None], heartbeat: float, guard: TokenGuard | None = None
) -> StreamingResponse:
    """Pulls the first item before answering, so a 401/404 is an HTTP status, not an event."""
    first = await anext(stream)

    async def body() -> AsyncIterator[str]:
        quiet_since = time.monotonic()
        if first is not None:
            yield sse_message(first)
        try:
            async for item in stream:
                if guard is not None:
                    await guard.check()
                if item is not None:
                    quiet_since = time.monotonic()
                    yield sse_message(item)
                elif time.monotonic() - quiet_since >= heartbeat:
                    quiet_since = time.monotonic()
                    yield ": keepalive\n\n"
        except TaskError as exc:
            payload = {"type": "error", "error_code": exc.code, "message": exc.message, "hint": exc.hint}
            yield f"event: error\ndata: {json.dumps(payload)}\n\n"
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)

