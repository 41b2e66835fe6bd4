"""Engine errors: each carries the machine code and HTTP status the API answers with."""

from __future__ import annotations

from typing import Any


class TaskError(Exception):
    """Base of every error a caller can cause; never a bug in the engine."""

    code = "task_error"
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class NotFound(TaskError):
    code = "not_found"
    http_status = 404


class UnknownState(NotFound):
    code = "unknown_state"


class UnknownTask(NotFound):
    code = "unknown_task"


class UnknownTaskId(NotFound):
    code = "unknown_task_id"


class InvalidArgs(TaskError):
    code = "invalid_args"
    http_status = 422


class InvalidRequest(TaskError):
    code = "invalid_request"
    http_status = 400


class Unauthorized(TaskError):
    code = "unauthorized"
    http_status = 401


class TokenRequired(Unauthorized):
    """An anonymous caller asked for something only a client or an admin may do."""

    code = "token_required"


class Conflict(TaskError):
    code = "conflict"
    http_status = 409


class EngineNotReady(TaskError):
    code = "not_ready"
    http_status = 503


class ServiceUnavailable(TaskError):
    """The database or Redis cannot be reached right now."""

    code = "service_unavailable"
    http_status = 503


class MessageTooLarge(TaskError):
    code = "message_too_large"
    http_status = 413


class RetryLater(TaskError):
    """429: the same request may succeed after `retry_after` seconds (sent as Retry-After)."""

    code = "retry_later"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class TooManyTasks(RetryLater):
    code = "concurrency_limit"
