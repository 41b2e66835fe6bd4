"""The task lifecycle API beyond the original routes: catalog, list, inspect,
cancel, re-run, delete, messages, ack, artifacts, SSE streams.

Callers are scoped as everywhere (tasks/access.py): an admin session sees every
task, a client token its own tasks, an anonymous caller tokenless tasks by id
(no listing, no bulk delete).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.errors import error_responses
from app.requests import bearer_token, last_event_id, read_json_body, statuses, timestamp
from app.schemas import (
    Catalog,
    Deleted,
    Delivered,
    StateInfo,
    TaskDetail,
    TaskInfo,
    TaskOut,
    TaskPage,
    log_out,
    task_detail,
    task_out,
    task_response,
)
from app.sse import KEEPALIVE_SECONDS, sse_response
from app.stream_guard import TokenGuard
from tasks.access import ADMIN, Access
from tasks.engine import Engine
from tasks.errors import InvalidRequest, TokenRequired
from tasks.events import TaskSnapshot
from tasks.queries import DIRECT, TaskQuery, TaskStats
from tasks.streams import client_events, task_events

TAG = "lifecycle"
LOGS_PER_LISTED_TASK = 50
SSE_CONTENT = {"text/event-stream": {"schema": {"type": "string"}}}


def encode_cursor(snap: TaskSnapshot) -> str:
    raw = json.dumps([snap.created_at.isoformat(), snap.task_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(task_id, str) or len(task_id) > 64:
            raise ValueError("bad task id")
        return datetime.fromisoformat(created), task_id
    except (ValueError, TypeError):
        raise InvalidRequest("invalid cursor", hint="pass back the next_cursor of the previous page") from None


def lifecycle_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=[TAG])

    async def access(request: Request) -> Access:
        return await engine.access_for(bearer_token(request.headers))

    @router.get("/api/catalog", response_model=Catalog, summary="Every state and task, with its args JSON schema")
    async def catalog() -> Catalog:
        states = []
        for state in engine.registry.states():
            tasks = [
                TaskInfo(
                    name=spec.name,
                    kind="static" if spec.is_static else "instance",
                    doc=spec.doc,
                    args_schema=spec.args_model.model_json_schema() if spec.args_model else None,
                    timeout=spec.options.timeout,
                    max_concurrency=spec.options.max_concurrency,
                    retention=spec.options.retention or engine.settings.retention_seconds,
                    retries=spec.options.retries,
                    start=(
                        f"/api/{spec.state}/task/start/{spec.name}"
                        if spec.is_static
                        else f"/api/{spec.state}/tasks/{{client_token}}/start/{spec.name}"
                    ),
                )
                for spec in state.tasks.values()
            ]
            states.append(StateInfo(name=state.name, module=state.module, readme=state.readme, tasks=tasks))
        return Catalog(states=states)

    def filtered(
        scope: Access,
        state: str | None,
        task: str | None,
        status: list[str],
        since: str | None,
        until: str | None,
        search: str | None,
        client: str | None,
        **page: Any,
    ) -> TaskQuery:
        if client is not None and not scope.admin:
            raise InvalidRequest("only an admin filters by client", hint="a client token lists its own tasks")
        return engine.scoped_query(
            scope,
            state=state,
            task=task,
            statuses=tuple(s.value for s in statuses(status)),
            since=timestamp(since, "since"),
            until=timestamp(until, "until"),
            search=search or None,
            client=client,
            **page,
        )

    filters = {
        "state": Query(default=None, max_length=128),
        "task": Query(default=None, max_length=128),
        "status": Query(default=[], description="Statuses, comma-separated or repeated, any case."),
        "since": Query(
            default=None, description="RFC 3339: created at or after it.", json_schema_extra={"format": "date-time"}
        ),
        "until": Query(
            default=None, description="RFC 3339: created before it.", json_schema_extra={"format": "date-time"}
        ),
        "search": Query(
            default=None, max_length=200, description="Text in the id, arguments, message, result or error."
        ),
        "client": Query(
            default=None, max_length=64, description=f"Admins: one client's tasks, or `{DIRECT}` for tokenless ones."
        ),
    }

    @router.get(
        "/api/tasks",
        response_model=TaskPage,
        responses=error_responses(400, 401, 422, 503),
        summary="List the caller's tasks (a token or admin session is needed), newest first, keyset-paginated",
    )
    async def list_tasks(
        request: Request,
        state: str | None = filters["state"],
        task: str | None = filters["task"],
        status: list[str] = filters["status"],
        since: str | None = filters["since"],
        until: str | None = filters["until"],
        search: str | None = filters["search"],
        client: str | None = filters["client"],
        limit: int = Query(default=20, ge=1, le=100),
        order: Literal["desc", "asc"] = "desc",
        cursor: str | None = Query(default=None, max_length=512),
        include: list[Literal["logs", "total"]] = Query(
            default=[], description="`logs`: each task's newest logs inline; `total`: how many match in all."
        ),
    ) -> JSONResponse:
        scope = await access(request)
        query = filtered(
            scope,
            state,
            task,
            status,
            since,
            until,
            search,
            client,
            limit=limit + 1,
            descending=order == "desc",
            after=decode_cursor(cursor) if cursor else None,
        )
        snaps = (await engine.list_tasks(query))[: limit + 1]
        page_snaps = snaps[:limit]
        items = [task_out(s) for s in page_snaps]
        if "logs" in include:
            logs = await engine.store.newest_logs([s.task_id for s in page_snaps], LOGS_PER_LISTED_TASK + 1)
            for item in items:
                found = logs.get(item["task_id"], [])
                item["logs"] = [log_out(e).model_dump(mode="json") for e in found[-LOGS_PER_LISTED_TASK:]]
                item["logs_truncated"] = len(found) > LOGS_PER_LISTED_TASK
        page: dict[str, Any] = {"data": items}
        if len(snaps) > limit:
            page["next_cursor"] = encode_cursor(page_snaps[-1])
        if "total" in include:
            page["total"] = await engine.count_tasks(query)
        return JSONResponse(page)

    @router.get(
        "/api/tasks/stats",
        response_model=TaskStats,
        responses=error_responses(400, 401, 422, 503),
        summary="Counts per status, started and finished per minute or hour, run-time percentiles per task",
    )
    async def stats(
        request: Request,
        state: str | None = filters["state"],
        task: str | None = filters["task"],
        status: list[str] = filters["status"],
        since: str | None = filters["since"],
        until: str | None = filters["until"],
        search: str | None = filters["search"],
        client: str | None = filters["client"],
    ) -> TaskStats:
        scope = await access(request)
        query = filtered(scope, state, task, status, since, until, search, client)
        return await engine.task_stats(query)

    @router.delete(
        "/api/tasks",
        response_model=Deleted,
        responses=error_responses(400, 401, 422, 503),
        summary="Delete the caller's finished tasks in these statuses (a token or admin session is needed)",
    )
    async def delete_many(request: Request, status: list[str] = Query(default=[])) -> Deleted:
        scope = await access(request)
        return Deleted(deleted=await engine.delete_many(statuses(status), scope))

    @router.get(
        "/api/tasks/stream",
        summary="SSE: every task of the token's client, live (Bearer client token; ?state= narrows)",
        response_class=Response,
        responses={
            200: {"content": SSE_CONTENT, "description": "The client's event stream"},
            **error_responses(400, 401, 404, 503),
        },
    )
    async def client_stream(request: Request, state: str | None = Query(default=None, max_length=128)) -> Response:
        token = bearer_token(request.headers)
        if token is None:
            raise TokenRequired("the client stream needs a client token", hint="Authorization: Bearer <token>")
        client = await engine.authenticate(token)
        if state is not None:
            engine.registry.state(state)
        stream = client_events(engine, client.name, state, after=last_event_id(request), keepalive=KEEPALIVE_SECONDS)
        return await sse_response(stream, engine.settings.sse_heartbeat_seconds, TokenGuard(engine, token))

    @router.get(
        "/api/tasks/{task_id}",
        response_model=TaskDetail,
        responses=error_responses(401, 404, 503),
        summary="A task with its args, logs, artifacts, messages and custom events",
    )
    async def inspect(request: Request, task_id: str) -> JSONResponse:
        scope = await access(request)
        snap = await engine.snapshot(task_id, scope)
        events = await engine.durable_events(task_id)  # access checked by the snapshot above
        record = await engine.store.get_task(task_id)
        detail = task_detail(snap, record.args if record else None, events, record.worker_id if record else None)
        return JSONResponse(detail.model_dump(mode="json"))

    @router.post(
        "/api/tasks/{task_id}/cancel",
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
    async def cancel(request: Request, task_id: str) -> Response:
        snap = await engine.cancel(task_id, await access(request))
        return task_response(snap, status_code=200 if snap.is_terminal else 202)

    @router.post(
        "/api/tasks/{task_id}/retry",
        status_code=202,
        response_model=TaskOut,
        responses=error_responses(401, 404, 409, 422, 429, 503),
        summary="Re-run an ended task: a new task with the same state, task, args and owner (retry_of links back)",
    )
    async def rerun(request: Request, task_id: str) -> Response:
        return task_response(await engine.rerun(task_id, await access(request)), status_code=202)

    @router.delete(
        "/api/tasks/{task_id}",
        status_code=204,
        responses=error_responses(401, 404, 409, 503),
        summary="Stop the task if it runs, then remove its record, events and artifacts",
    )
    async def delete(request: Request, task_id: str) -> Response:
        await engine.delete(task_id, await access(request))
        return Response(status_code=204)

    @router.post(
        "/api/tasks/{task_id}/messages",
        status_code=202,
        response_model=Delivered,
        responses=error_responses(400, 401, 404, 409, 413, 503),
        summary="Send a JSON message to a running task (it reads it with task.receive()); 409 if not running",
    )
    async def message(request: Request, task_id: str) -> Delivered:
        scope = await access(request)
        raw = await request.body()
        if len(raw) > engine.settings.max_message_bytes:
            raise InvalidRequest(f"a message may be at most {engine.settings.max_message_bytes} bytes")
        body = await read_json_body(request)
        if body is None:
            raise InvalidRequest("the message body is empty", hint='send any JSON value, e.g. {"action": "skip"}')
        snap = await engine.send_message(task_id, body, scope)
        return Delivered(delivered=True, task=TaskOut(**task_out(snap)))

    @router.post(
        "/api/tasks/{task_id}/ack",
        response_model=TaskOut,
        responses=error_responses(401, 404, 409, 503),
        summary="Result delivered: remove the finished task",
    )
    async def ack(request: Request, task_id: str) -> Response:
        return task_response(await engine.ack(task_id, await access(request)))

    @router.get(
        "/api/tasks/{task_id}/artifacts/{name}",
        summary="Download an artifact",
        response_class=Response,
        responses={
            200: {"content": {"application/octet-stream": {}}, "description": "The file"},
            **error_responses(401, 404, 503),
        },
    )
    async def artifact(
        request: Request,
        task_id: str,
        name: str,
        exp: str | None = Query(default=None, max_length=20, description="With `sig`: a link the dashboard signed."),
        sig: str | None = Query(default=None, max_length=64),
    ) -> Response:
        signed = exp is not None and sig is not None and engine.artifact_signature_valid(task_id, name, exp, sig)
        scope = ADMIN if signed else await access(request)
        data, mime = await engine.artifact(task_id, name, scope)
        headers = {
            # A task's file must never run as a page of this origin (the dashboard's).
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        }
        return Response(content=data, media_type=mime, headers=headers)

    @router.get(
        "/api/tasks/{task_id}/stream",
        summary="SSE: a task's snapshot, then its events; resume with Last-Event-ID",
        response_class=Response,
        responses={
            200: {"content": SSE_CONTENT, "description": "The task's event stream"},
            **error_responses(400, 401, 404, 503),
        },
    )
    async def task_stream(request: Request, task_id: str) -> Response:
        token = bearer_token(request.headers)
        scope = await access(request)
        stream = task_events(engine, task_id, after=last_event_id(request), access=scope, keepalive=KEEPALIVE_SECONDS)
        guard = TokenGuard(engine, token) if token is not None else None
        return await sse_response(stream, engine.settings.sse_heartbeat_seconds, guard)

    return router
