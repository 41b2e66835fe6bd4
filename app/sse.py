"""Server-Sent Events: the same event streams as the WebSockets, as `text/event-stream`.

Each event has `id:` (resume with `Last-Event-ID`), `event:` (its type) and one
JSON `data:` line. Idle streams get a `: keepalive` comment every
SPYGLASS_SSE_KEEPALIVE_SECONDS so proxies keep them open. If the stream itself
fails after it began (its token was revoked), a `stream_error` event says why
and the stream ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from app.stream_guard import TokenGuard
from tasks.errors import TaskError
from tasks.events import TaskEvent
from tasks.streams import ClientSnapshot

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_SECONDS = 0.5  # how often an idle stream wakes up to check its token and its client


def sse_message(item: TaskEvent | ClientSnapshot) -> str:
    return f"id: {item.id}\nevent: {item.type}\ndata: {item.wire_text()}\n\n"


async def sse_response(
    stream: AsyncIterator[TaskEvent | ClientSnapshot | None],
    keepalive_every: float,
    guard: TokenGuard | None = None,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """Pulls the first item before answering, so a 401/404 is an HTTP status, not an event."""
    first = await anext(stream)

    async def body() -> AsyncIterator[str]:
        quiet_since = time.monotonic()
        try:
            if first is not None:
                yield sse_message(first)
            async for item in stream:
                if guard is not None:
                    await guard.check()
                if item is not None:
                    quiet_since = time.monotonic()
                    yield sse_message(item)
                elif time.monotonic() - quiet_since >= keepalive_every:
                    quiet_since = time.monotonic()
                    yield ": keepalive\n\n"
        except TaskError as exc:
            payload = {"type": "stream_error", "error_code": exc.code, "message": exc.message, "hint": exc.hint}
            yield f"event: stream_error\ndata: {json.dumps(payload)}\n\n"
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(body(), media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})})
