"""JSON errors with a machine code: never a stack trace, never HTML."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasks.errors import TaskError, TooManyTasks

log = logging.getLogger("spyglass.api")


class ErrorBody(BaseModel):
    """Every error answer: `code` for programs, `message` for people."""

    code: str
    message: str
    hint: str | None = None
    details: list[dict[str, Any]] | None = None


class InvalidJson(TaskError):
    code = "invalid_json"
    http_status = 400


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def task_error_response(exc: TaskError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyTasks) else None
    return error_response(
        exc.http_status, ErrorBody(code=exc.code, message=exc.message, hint=exc.hint, details=exc.details), headers
    )


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "body_too_large"}


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(TaskError)
    async def _task_error(_: Request, exc: TaskError) -> JSONResponse:
        return task_error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, ErrorBody(code="invalid_json", message="the request body is not valid JSON"))
        details = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")} for err in errors]
        return error_response(422, ErrorBody(code="invalid_request", message="invalid request parameters", details=details))

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, ErrorBody(code=code, message=str(exc.detail)), dict(exc.headers or {}))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, ErrorBody(code="internal_error", message="the server hit an unexpected error"))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed JSON body (`invalid_json`)",
        404: "Unknown state, task or task id (`unknown_state`, `unknown_task`, `unknown_task_id`)",
        413: "Body larger than the limit (`body_too_large`)",
        422: "Invalid arguments, with field-level `details` (`invalid_args`, `invalid_request`)",
        429: "Concurrency limit reached (`concurrency_limit`), see `Retry-After`",
    }.items()
}
