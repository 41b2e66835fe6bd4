"""Cache headers for the frontend Reflex serves. Its pages carry no Cache-Control,
so browsers cache them heuristically (a tenth of their age): after a deploy or a
restart, a cached page names scripts the new build no longer has, and the
dashboard stays blank. Pages are revalidated on every visit (a 304 with the
ETag); the content-hashed files under /assets/ are immutable."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


class FrontendCaching:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    if path.startswith("/assets/"):
                        headers["cache-control"] = IMMUTABLE
                    elif headers.get("content-type", "").startswith("text/html") or message["status"] == 304:
                        headers["cache-control"] = REVALIDATE
            await send(message)

        await self.app(scope, receive, send_with_policy)
