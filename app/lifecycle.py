"""The task lifecycle API beyond the original routes (`/api/tasks…`): list, stats,
inspect, cancel, re-run, delete, messages, ack, artifacts, SSE streams.

Callers are scoped as everywhere (tasks/access.py): an admin session sees every
task, a client token its own tasks, an anonymous caller tokenless tasks by id
(no listing, no bulk delete).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.dependencies import AccessDep, EngineDep, RequiredClientDep, ResumeDep, TokenDep
from app.errors import error_responses
from app.filters import TaskFilters, TaskListParams
from app.requests import read_json_body, statuses
from app.schemas import Deleted, Delivered, TaskDetail, TaskOut, TaskPage, log_out, task_detail, task_out, task_response
from app.sse import KEEPALIVE_SECONDS, sse_response
from app.stream_guard import TokenGuard
from tasks.access import ADMIN
from tasks.errors import InvalidRequest, MessageTooLarge
from tasks.events import TaskSnapshot
from tasks.queries import TaskStats
from tasks.streams import client_events, task_events
from tasks.text import names_nothing_stored

LOGS_PER_LISTED_TASK = 50
SSE_CONTENT = {"text/event-stream": {"schema": {"type": "string"}}}

router = APIRouter(prefix="/api/tasks", tags=["lifecycle"])


def encode_cursor(snap: TaskSnapshot) -> str:
    raw = json.dumps([snap.created_at.isoformat(), snap.task_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(task_id, str) or len(task_id) > 64 or names_nothing_stored(task_id):
            raise ValueError("bad task id")
        return datetime.fromisoformat(created), task_id
    except (ValueError, TypeError):
        raise InvalidRequest("invalid cursor", hint="pass back the next_cursor of the previous page") from None


@router.get(
    "",
    response_model=TaskPage,
    responses=error_responses(400, 401, 422, 503),
    summary="List the caller's tasks (a token or admin session is needed), newest first, keyset-paginated",
)
async def list_tasks(engine: EngineDep, access: AccessDep, params: Annotated[TaskListParams, Query()]) -> JSONResponse:
    query = params.query(
        engine,
        access,
        limit=params.limit + 1,
        descending=params.order == "desc",
        after=decode_cursor(params.cursor) if params.cursor else None,
    )
    snaps = (await engine.list_tasks(query))[: params.limit + 1]
    page_snaps = snaps[: params.limit]
    items = [task_out(s) for s in page_snaps]
    if "logs" in params.include:
        logs = await engine.newest_logs([s.task_id for s in page_snaps], LOGS_PER_LISTED_TASK + 1)
        for item in items:
            found = logs.get(item["task_id"], [])
            item["logs"] = [log_out(e).model_dump(mode="json") for e in found[-LOGS_PER_LISTED_TASK:]]
            item["logs_truncated"] = len(found) > LOGS_PER_LISTED_TASK
    page: dict[str, Any] = {"data": items}
    if len(snaps) > params.limit:
        page["next_cursor"] = encode_cursor(page_snaps[-1])
    if "total" in params.include:
        page["total"] = await engine.count_tasks(query)
    return JSONResponse(page)


@router.get(
    "/stats",
    response_model=TaskStats,
    responses=error_responses(400, 401, 422, 503),
    summary="Counts per status, started and finished per minute or hour, run-time percentiles per task",
)
async def stats(engine: EngineDep, access: AccessDep, filters: Annotated[TaskFilters, Query()]) -> TaskStats:
    return await engine.task_stats(filters.query(engine, access))


@router.delete(
    "",
    response_model=Deleted,
    responses=error_responses(400, 401, 422, 503),
    summary="Delete the caller's finished tasks in these statuses (a token or admin session is needed)",
)
async def delete_many(engine: EngineDep, access: AccessDep, status: list[str] = Query(default=[])) -> Deleted:
    return Deleted(deleted=await engine.delete_many(statuses(status), access))


@router.get(
    "/stream",
    summary="SSE: every task of the token's client, live (Bearer client token; ?state= narrows)",
    response_class=Response,
    responses={
        200: {"content": SSE_CONTENT, "description": "The client's event stream"},
        **error_responses(400, 401, 404, 503),
    },
)
async def client_stream(
    engine: EngineDep,
    client: RequiredClientDep,
    token: TokenDep,
    after: ResumeDep,
    state: str | None = Query(default=None, max_length=128),
) -> Response:
    if state is not None:
        engine.registry.state(state)
    stream = client_events(engine, client.name, state, after=after, keepalive=KEEPALIVE_SECONDS)
    return await sse_response(stream, engine.settings.sse_keepalive_seconds, TokenGuard(engine, token or ""))


@router.get(
    "/{task_id}",
    response_model=TaskDetail,
    responses=error_responses(401, 404, 503),
    summary="A task with its args, logs, artifacts, messages and custom events",
)
async def inspect(engine: EngineDep, access: AccessDep, task_id: str) -> JSONResponse:
    detail = task_detail(await engine.inspect(task_id, access))
    return JSONResponse(detail.model_dump(mode="json"))


@router.post(
    "/{task_id}/cancel",
    response_model=TaskOut,
    responses={
        202: {
            "model": TaskOut,
            "description": "Cancellation requested, the task is still stopping (`cancel_requested: true`); "
            "it is ended Cancelled (`cancel_forced`) after SPYGLASS_CANCEL_GRACE_SECONDS",
        },
        **error_responses(401, 404, 409, 503),
    },
    summary="Cancel a running task: 200 once Cancelled, 202 while it stops, 409 if it had ended",
)
async def cancel(engine: EngineDep, access: AccessDep, task_id: str) -> Response:
    snap = await engine.cancel(task_id, access)
    return task_response(snap, status_code=200 if snap.is_terminal else 202)


@router.post(
    "/{task_id}/retry",
    status_code=202,
    response_model=TaskOut,
    responses=error_responses(401, 404, 409, 422, 429, 503),
    summary="Re-run an ended task: a new task with the same state, task, args and client (retry_of links back)",
)
async def rerun(engine: EngineDep, access: AccessDep, task_id: str) -> Response:
    return task_response(await engine.rerun(task_id, access), status_code=202)


@router.delete(
    "/{task_id}",
    status_code=204,
    responses=error_responses(401, 404, 409, 503),
    summary="Stop the task if it runs, then remove its record, events and artifacts",
)
async def delete(engine: EngineDep, access: AccessDep, task_id: str) -> Response:
    await engine.delete(task_id, access)
    return Response(status_code=204)


@router.post(
    "/{task_id}/messages",
    status_code=202,
    response_model=Delivered,
    responses=error_responses(400, 401, 404, 409, 413, 503),
    summary="Send a JSON message to a running task (it reads it with task.receive()); 409 if not running",
)
async def message(engine: EngineDep, access: AccessDep, task_id: str, request: Request) -> Delivered:
    raw = await request.body()
    if len(raw) > engine.settings.max_message_bytes:
        raise MessageTooLarge(
            f"a message may be at most {engine.settings.max_message_bytes} bytes",
            hint="send less, or raise SPYGLASS_MAX_MESSAGE_BYTES",
        )
    body = await read_json_body(request)
    if body is None:
        raise InvalidRequest("the message body is empty", hint='send any JSON value, e.g. {"action": "skip"}')
    snap = await engine.send_message(task_id, body, access)
    return Delivered(delivered=True, task=TaskOut(**task_out(snap)))


@router.post(
    "/{task_id}/ack",
    response_model=TaskOut,
    responses=error_responses(401, 404, 409, 503),
    summary="Result delivered: remove the finished task",
)
async def ack(engine: EngineDep, access: AccessDep, task_id: str) -> Response:
    return task_response(await engine.ack(task_id, access))


@router.get(
    "/{task_id}/artifacts/{name}",
    summary="Download an artifact",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
        **error_responses(401, 404, 503),
    },
)
async def artifact(
    engine: EngineDep,
    token: TokenDep,
    task_id: str,
    name: str,
    exp: str | None = Query(default=None, max_length=20, description="With `sig`: a link the dashboard signed."),
    sig: str | None = Query(default=None, max_length=64),
) -> Response:
    signed = exp is not None and sig is not None and engine.artifact_signature_valid(task_id, name, exp, sig)
    access = ADMIN if signed else await engine.access_for(token)
    data, mime = await engine.artifact(task_id, name, access)
    headers = {
        # A task's file must never run as a page of this origin (the dashboard's).
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    return Response(content=data, media_type=mime, headers=headers)


@router.get(
    "/{task_id}/stream",
    summary="SSE: a task's snapshot, then its events; resume with Last-Event-ID",
    response_class=Response,
    responses={
        200: {"content": SSE_CONTENT, "description": "The task's event stream"},
        **error_responses(400, 401, 404, 503),
    },
)
async def task_stream(
    engine: EngineDep, access: AccessDep, token: TokenDep, after: ResumeDep, task_id: str
) -> Response:
    stream = task_events(engine, task_id, after=after, access=access, keepalive=KEEPALIVE_SECONDS)
    guard = TokenGuard(engine, token) if token is not None else None
    return await sse_response(stream, engine.settings.sse_keepalive_seconds, guard)
