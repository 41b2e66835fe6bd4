"""The task lifecycle API beyond the original routes: catalog, list, inspect,
cancel, delete, messages, ack, artifacts, SSE streams.

Callers are scoped as everywhere: a Bearer client token sees that client's tasks
only; without one, only tasks started on the open direct routes.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from app.errors import ERROR_RESPONSES
from app.routes import bearer_token, read_json_body, task_response
from app.schemas import (
    ArtifactOut,
    Catalog,
    Deleted,
    Delivered,
    LogOut,
    MessageOut,
    StateInfo,
    TaskDetail,
    TaskInfo,
    TaskOut,
    TaskPage,
    task_links,
)
from app.sse import last_event_id, sse_response
from app.websockets import KEEPALIVE_SECONDS, TokenGuard
from tasks.engine import Access, Engine
from tasks.errors import InvalidRequest
from tasks.events import EventType, TaskSnapshot
from tasks.status import TaskStatus
from tasks.store import TaskQuery
from tasks.streams import client_events, task_events

TAG = "lifecycle"


def parse_statuses(raw: list[str]) -> tuple[TaskStatus, ...]:
    """`?status=Completed,Error` or repeated `?status=`; 400 names the unknown one."""
    names = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    statuses = []
    for name in names:
        try:
            statuses.append(TaskStatus(name))
        except ValueError:
            raise InvalidRequest(
                f"unknown status {name!r}", hint=f"statuses: {', '.join(s.value for s in TaskStatus)}"
            ) from None
    return tuple(statuses)


def encode_cursor(snap: TaskSnapshot) -> str:
    raw = json.dumps([snap.created_at.isoformat(), snap.task_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(task_id)
    except (ValueError, TypeError):
        raise InvalidRequest("invalid cursor", hint="pass back the next_cursor of the previous page") from None


def _out(snap: TaskSnapshot) -> dict[str, Any]:
    return {**snap.model_dump(mode="json"), "links": task_links(snap)}


def lifecycle_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=[TAG], responses=ERROR_RESPONSES)

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

    @router.get("/api/tasks", response_model=TaskPage, summary="List tasks, newest first, with keyset pagination")
    async def list_tasks(
        request: Request,
        state: str | None = None,
        task: str | None = None,
        status: list[str] = Query(default=[], description="One or more statuses, comma-separated or repeated."),
        since: datetime | None = Query(default=None, description="RFC 3339: tasks created at or after it."),
        limit: int = Query(default=20, ge=1, le=100),
        order: Literal["desc", "asc"] = "desc",
        cursor: str | None = None,
    ) -> JSONResponse:
        scope = await access(request)
        query = TaskQuery(
            owner=scope.client,
            all_owners=scope.all_clients,
            state=state,
            task=task,
            statuses=tuple(s.value for s in parse_statuses(status)),
            since=since,
            limit=limit + 1,
            descending=order == "desc",
            after=decode_cursor(cursor) if cursor else None,
        )
        snaps = await engine.list_tasks(query)
        page: dict[str, Any] = {"data": [_out(s) for s in snaps[:limit]]}
        if len(snaps) > limit:
            page["next_cursor"] = encode_cursor(snaps[limit - 1])
        return JSONResponse(page)

    @router.delete("/api/tasks", response_model=Deleted, summary="Delete the caller's finished tasks in these statuses")
    async def delete_many(request: Request, status: list[str] = Query(default=[])) -> Deleted:
        scope = await access(request)
        return Deleted(deleted=await engine.delete_many(parse_statuses(status), scope))

    @router.get(
        "/api/tasks/stream",
        summary="SSE: every task of the token's client, live (Bearer token; ?state= narrows)",
        response_class=Response,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def client_stream(request: Request, state: str | None = None) -> Response:
        token = bearer_token(request.headers)
        client = await engine.authenticate(token)
        if state is not None:
            engine.registry.state(state)
        after = last_event_id(request)
        stream = client_events(engine, client.name, state, after=after, keepalive=KEEPALIVE_SECONDS)
        return await sse_response(stream, engine.settings.sse_heartbeat_seconds, TokenGuard(engine, token or ""))

    @router.get("/api/tasks/{task_id}", response_model=TaskDetail, summary="A task with its logs, artifacts and messages")
    async def inspect(request: Request, task_id: str) -> JSONResponse:
        scope = await access(request)
        snap = await engine.snapshot(task_id, scope)
        events = await engine.durable_events(task_id)  # access checked by the snapshot above
        record = await engine.store.get_task(task_id)
        detail = TaskDetail(
            **_out(snap),
            args=record.args if record else None,
            logs=[
                LogOut(id=e.id, timestamp=e.timestamp, level=e.level.value if e.level else "info", message=e.message or "")
                for e in events
                if e.type is EventType.LOG
            ],
            artifacts=[ArtifactOut(id=e.id, timestamp=e.timestamp, **e.data) for e in events if e.type is EventType.ARTIFACT],
            messages=[MessageOut(id=e.id, timestamp=e.timestamp, body=e.data) for e in events if e.type is EventType.MESSAGE],
        )
        return JSONResponse(detail.model_dump(mode="json"))

    @router.post("/api/tasks/{task_id}/cancel", response_model=TaskOut, summary="Cancel a running task (409 if it ended)")
    async def cancel(request: Request, task_id: str) -> Response:
        return task_response(await engine.cancel(task_id, await access(request)))

    @router.delete("/api/tasks/{task_id}", status_code=204, summary="Cancel if running, then remove the record")
    async def delete(request: Request, task_id: str) -> Response:
        await engine.delete(task_id, await access(request))
        return Response(status_code=204)

    @router.post(
        "/api/tasks/{task_id}/messages",
        status_code=202,
        response_model=Delivered,
        summary="Send a JSON message to a running task (it reads it with task.receive()); 409 if not running",
    )
    async def message(request: Request, task_id: str) -> Delivered:
        scope = await access(request)
        raw = await request.body()
        if len(raw) > engine.settings.max_message_bytes:
            raise InvalidRequest(f"a message may be at most {engine.settings.max_message_bytes} bytes")
        body = await read_json_body(request)
        if body is None:
            raise InvalidRequest("the message body is empty", hint="send any JSON value, e.g. {\"action\": \"skip\"}")
        snap = await engine.send_message(task_id, body, scope)
        return Delivered(delivered=True, task=TaskOut(**_out(snap)))

    @router.post("/api/tasks/{task_id}/ack", response_model=TaskOut, summary="Result delivered: remove the finished task")
    async def ack(request: Request, task_id: str) -> Response:
        return task_response(await engine.ack(task_id, await access(request)))

    @router.get("/api/tasks/{task_id}/artifacts/{name}", summary="Download an artifact", response_class=FileResponse)
    async def artifact(request: Request, task_id: str, name: str) -> FileResponse:
        path, mime = await engine.artifact_file(task_id, name, await access(request))
        return FileResponse(path, media_type=mime, filename=path.name)

    @router.get(
        "/api/tasks/{task_id}/stream",
        summary="SSE: a task's snapshot, then its events; resume with Last-Event-ID",
        response_class=Response,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def task_stream(request: Request, task_id: str) -> Response:
        token = bearer_token(request.headers)
        scope = await access(request)
        stream = task_events(engine, task_id, after=last_event_id(request), access=scope, keepalive=KEEPALIVE_SECONDS)
        guard = TokenGuard(engine, token) if token is not None else None
        return await sse_response(stream, engine.settings.sse_heartbeat_seconds, guard)

    return router
