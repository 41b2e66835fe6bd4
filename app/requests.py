"""What a request carries, read strictly: a bad value is a 4xx with the reason,
never a 500 or a silently different meaning."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Request
from starlette.types import Scope

from tasks.errors import InvalidRequest, TaskError
from tasks.jsondata import UnsafeJson, parse_json
from tasks.queries import as_utc_aware
from tasks.status import TaskStatus
from tasks.streams import MAX_EVENT_ID


class InvalidJson(TaskError):
    code = "invalid_json"
    http_status = 400


_EVENT_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "²" and "٣" are not event ids
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?")
_STATUS_BY_NAME = {status.value.lower(): status for status in TaskStatus}


async def read_json_body(request: Request) -> Any:
    """None for an empty body; the decoded JSON otherwise (any content type)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return parse_json(raw)
    except UnsafeJson as exc:
        raise InvalidJson(str(exc), hint="send a JSON object, e.g. -d '{}'") from None


def scope_header(scope: Scope, name: bytes) -> bytes | None:
    """A request header read straight off the ASGI scope (lowercase name), for the
    middlewares that answer before a Request object exists."""
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value)
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without the header.
    A header that is there but holds no Bearer token ("Basic …", "Token …", a bare
    token, "Bearer" alone) is "", which every check refuses: a caller who meant to
    authenticate must never be served as nobody (and start a task anyone can read)."""
    raw = headers.get("authorization")
    if raw is None:
        return None
    parts = raw.split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1].strip()
    return ""


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidRequest("Idempotency-Key must be 1 to 200 characters")
    return key


def event_id(raw: str | None, name: str = "after") -> int | None:
    """A resume point (`Last-Event-ID`, `?after=`): a decimal event id below 2^63."""
    if raw is None or raw == "":
        return None
    if not _EVENT_ID.fullmatch(raw) or int(raw) > MAX_EVENT_ID:
        raise InvalidRequest(
            f"{name} must be an event id: ASCII digits, at most {MAX_EVENT_ID}",
            hint="pass back the id of the last event you received",
        )
    return int(raw)


def last_event_id(request: Request) -> int | None:
    """`Last-Event-ID` header (what browsers send on reconnect), else `?after=`."""
    header = request.headers.get("last-event-id")
    if header is not None:
        return event_id(header, "Last-Event-ID")
    return event_id(request.query_params.get("after"))


def timestamp(raw: str | None, name: str) -> datetime | None:
    """An RFC 3339 date-time; one without an offset is taken as UTC."""
    if raw is None or raw == "":
        return None
    if not _RFC3339.fullmatch(raw):
        raise InvalidRequest(
            f"{name} must be an RFC 3339 date-time, e.g. 2026-11-22T09:30:00Z", hint="numbers are not times here"
        )
    try:
        value = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name} is not a valid date-time: {raw!r}") from None
    return as_utc_aware(value)


def statuses(raw: list[str]) -> tuple[TaskStatus, ...]:
    """`?status=Completed,Error` or repeated `?status=`, any case; 400 names an unknown one."""
    names = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    found = []
    for name in names:
        status = _STATUS_BY_NAME.get(name.lower())
        if status is None:
            raise InvalidRequest(f"unknown status {name!r}", hint=f"statuses: {', '.join(s.value for s in TaskStatus)}")
        found.append(status)
    return tuple(dict.fromkeys(found))
