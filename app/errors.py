"""JSON errors with a machine code: never a stack trace, never HTML."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.requests import scope_header
from tasks.auth import redact
from tasks.errors import RetryLater, TaskError
from tasks.store import is_unreachable

log = logging.getLogger("spyglass.api")


class ErrorBody(BaseModel):
    """Every error answer: `code` for programs, `message` for people."""

    code: str
    message: str
    hint: str | None = None
    details: list[dict[str, Any]] | None = None


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def task_error_response(exc: TaskError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
    return error_response(
        exc.http_status, ErrorBody(code=exc.code, message=exc.message, hint=exc.hint, details=exc.details), headers
    )


def body_too_large() -> ErrorBody:
    """The one 413 answer, whichever layer noticed the body was too large."""
    from tasks.engine import get_engine

    limit = get_engine().settings.max_body_bytes
    return ErrorBody(
        code="body_too_large",
        message=f"the request body is larger than {limit} bytes",
        hint="send less data, or raise SPYGLASS_MAX_BODY_BYTES",
    )


HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    422: "invalid_request",
}


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(TaskError)
    async def _task_error(_: Request, exc: TaskError) -> JSONResponse:
        return task_error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, ErrorBody(code="invalid_json", message="the request body is not valid JSON"))
        details = [
            {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
            for err in errors
        ]
        return error_response(
            422, ErrorBody(code="invalid_request", message="invalid request parameters", details=details)
        )

    @api.exception_handler(ClientDisconnect)
    async def _body_cut_short(_: Request, exc: ClientDisconnect) -> JSONResponse:
        """The client stopped sending before its body's declared end: no one may
        be listening, but the answer is a 400, not an unexpected error."""
        body = ErrorBody(code="invalid_request", message="the request body ended before its declared length")
        return error_response(400, body, {"Connection": "close"})

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 413:  # a body streamed past SPYGLASS_MAX_BODY_BYTES (app/body_limit.py)
            return error_response(413, body_too_large(), {"Connection": "close"})
        return error_response(exc.status_code, ErrorBody(code=code, message=str(exc.detail)), dict(exc.headers or {}))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_unreachable(exc) or isinstance(exc, RedisConnectionError | RedisTimeoutError):
            log.warning("%s %s: a backing service is unreachable (%s)", request.method, request.url.path, exc)
            body = ErrorBody(
                code="service_unavailable",
                message="the database or Redis is unreachable",
                hint="retry shortly; GET /ready says which",
            )
            return error_response(503, body, {"Retry-After": "5"})
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, ErrorBody(code="internal_error", message="the server hit an unexpected error"))


_DESCRIPTIONS = {
    400: "Malformed request: a body that is not JSON (`invalid_json`) or a bad parameter (`invalid_request`)",
    401: "Missing, invalid, expired or revoked token (`unauthorized`); listing and bulk delete need one "
    "(`token_required`)",
    404: "Unknown state, task, task id or artifact, or a task the caller may not see "
    "(`unknown_state`, `unknown_task`, `unknown_task_id`, `not_found`)",
    409: "The task is not in a state that allows this (`conflict`)",
    413: "Body larger than the limit (`body_too_large`)",
    422: "Invalid arguments or parameters, with field-level `details` (`invalid_args`, `invalid_request`)",
    429: "Too many: a concurrency limit (`concurrency_limit`) or failed logins (`too_many_logins`); see `Retry-After`",
    503: "The task engine is starting or stopping (`not_ready`), or the database or Redis is unreachable "
    "(`service_unavailable`); see `Retry-After`",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer with."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


class JsonErrors:
    """Outermost middleware: an error answer that is not JSON (Starlette's plain
    "Not Found", a static-file 405, the frontend's HTML 404 page for a client that
    did not ask for HTML) is replaced by the JSON error shape, so no path of this
    server answers an API client with text or HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def send_json_errors(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and int(message["status"]) >= 400:
                status = int(message["status"])
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                media = headers.get("content-type", "")
                keep_html = media.startswith("text/html") and "text/html" in (
                    scope_header(scope, b"accept") or b""
                ).decode("latin-1")
                if not media.startswith("application/json") and not keep_html:
                    replacing = True
                    code = HTTP_CODES.get(status, "http_error")
                    reason = HTTPStatus(status).phrase.lower() if status in HTTPStatus._value2member_map_ else "error"
                    path = redact(scope["path"])  # a token route's path carries the token
                    body = (
                        body_too_large()
                        if status == 413
                        else ErrorBody(code=code, message=f"{reason}: {scope['method']} {path}")
                    )
                    response = error_response(status, body, {"Allow": headers["allow"]} if "allow" in headers else None)
                    await response({"type": "http"}, receive, send)
                    return
            if replacing:
                return  # the original body of a replaced answer
            await send(message)

        await self.app(scope, receive, send_json_errors)
