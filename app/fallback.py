"""Registered last: unknown API paths answer JSON (404, or 405 with `Allow` for a
known path asked with another method) instead of Reflex's HTML page."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.errors import ErrorBody, error_response


def fallback_router(routers: Sequence[APIRouter]) -> APIRouter:
    """Registered last: unknown /api paths are 404 JSON, known paths with another
    method 405 JSON with `Allow` (looked up in `routers`)."""
    router = APIRouter()
    known = [(route.path_regex, route.methods) for r in routers for route in r.routes if isinstance(route, APIRoute)]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]

    async def not_found(request: Request, path: str) -> JSONResponse:
        allowed: set[str] = set()
        for regex, route_methods in known:
            if regex.match(request.url.path):
                allowed |= route_methods or set()
        if allowed:
            return error_response(
                405,
                ErrorBody(code="method_not_allowed", message=f"{request.method} is not allowed on {request.url.path}"),
                {"Allow": ", ".join(sorted(allowed))},
            )
        return error_response(
            404, ErrorBody(code="not_found", message=f"no API route {request.url.path}", hint="see /docs")
        )

    for prefix in ("/api/{path:path}", "/health{path:path}", "/ready{path:path}"):
        router.add_api_route(prefix, not_found, methods=methods, include_in_schema=False)
    return router
