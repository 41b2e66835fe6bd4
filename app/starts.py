"""Start routes, one pair per registered task so OpenAPI shows each task's own
arguments: the direct route `POST /api/<state>/task/start/<task>` (static tasks)
and the token route `POST /api/<state>/tasks/<client_token>/start/<task>`.
Both go through one start path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dependencies import ClientDep, EngineDep, TokenDep
from app.errors import error_responses
from app.openapi import args_schema_ref
from app.requests import idempotency_key, read_json_body
from app.schemas import TaskOut, task_response
from app.sse import KEEPALIVE_SECONDS, sse_response
from app.stream_guard import TokenGuard
from tasks.access import Access
from tasks.auth import Client
from tasks.engine import Engine, instance_task_needs_token
from tasks.registry import Registry, TaskSpec
from tasks.streams import task_events

EVENT_STREAM = "text/event-stream"


def wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


async def start_from_request(
    engine: Engine, spec: TaskSpec, request: Request, client: Client | None, token: str | None = None
) -> Response:
    """The one start path of both routes: 202 for a new task, 200 for an idempotent
    repeat; with `Accept: text/event-stream`, the task's event stream instead."""
    args = spec.parse_args(await read_json_body(request))
    snap, created = await engine.submit(spec, args, client.name if client else None, idempotency_key(request.headers))
    if not wants_stream(request):
        return task_response(snap, status_code=202 if created else 200, token=token)
    access = Access(client=client.name if client else None)
    stream = task_events(engine, snap.task_id, after=0, access=access, keepalive=KEEPALIVE_SECONDS)
    guard = TokenGuard(engine, token) if token is not None else None
    headers = {"Location": f"/api/tasks/{snap.task_id}", "X-Task-Id": snap.task_id}
    return await sse_response(stream, engine.settings.sse_keepalive_seconds, guard, headers)


def _direct_start(spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    async def start(engine: EngineDep, client: ClientDep, token: TokenDep, request: Request) -> Response:
        return await start_from_request(engine, spec, request, client, token if client else None)

    return start


def _token_start(spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    async def start(engine: EngineDep, request: Request, client_token: str) -> Response:
        client = await engine.authenticate(client_token)
        return await start_from_request(engine, spec, request, client, client_token)

    return start


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "A repeat with the same key (same client) returns the first task with 200; "
    "the same key with other arguments is 409.",
}

START_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": TaskOut,
        "description": "An idempotent repeat: the task first started with this Idempotency-Key. "
        "With `Accept: text/event-stream`: the new task's SSE stream, as `GET /api/tasks/<id>/stream`.",
        "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
    },
    **error_responses(400, 401, 404, 409, 413, 422, 429, 503),
}


def _start_openapi(spec: TaskSpec) -> dict[str, Any]:
    """The args model as request body, and the Idempotency-Key header."""
    extra: dict[str, Any] = {"parameters": [IDEMPOTENCY_PARAMETER]}
    if spec.args_model is not None:
        extra["requestBody"] = {
            "required": spec.requires_args,
            "content": {"application/json": {"schema": {"$ref": args_schema_ref(spec.args_model)}}},
        }
    return extra


def start_router(registry: Registry) -> APIRouter:
    """The start routes of every task the registry holds, then the answers for
    tasks it does not (a precise 404, or 401 for an instance task without token)."""
    router = APIRouter()
    for spec in registry.tasks():
        common: dict[str, Any] = {
            "methods": ["POST"],
            "status_code": 202,
            "response_model": TaskOut,
            "responses": START_RESPONSES,
            "tags": [spec.state],
            "openapi_extra": _start_openapi(spec),
        }
        if spec.is_static:
            router.add_api_route(
                f"/api/{spec.state}/task/start/{spec.name}",
                _direct_start(spec),
                summary=f"Start {spec.state}.{spec.name}",
                description=spec.doc,
                operation_id=f"start_{spec.state}_{spec.name}",
                **common,
            )
        router.add_api_route(
            f"/api/{spec.state}/tasks/{{client_token}}/start/{spec.name}",
            _token_start(spec),
            summary=f"Start {spec.state}.{spec.name} for the token's client",
            description=spec.doc + "\n\nThe task is owned by the client; only its tokens see it.",
            operation_id=f"start_{spec.state}_{spec.name}_for_client",
            **common,
        )
    for path, unknown in (
        ("/api/{state}/tasks/{client_token}/start/{task_name}", token_start_unknown),
        ("/api/{state}/task/start/{task_name}", start_unknown),
    ):
        router.add_api_route(path, unknown, methods=["POST"], include_in_schema=False)
    return router


async def token_start_unknown(engine: EngineDep, state: str, client_token: str, task_name: str) -> None:
    await engine.authenticate(client_token)
    engine.registry.get(state, task_name)  # raises the precise 404


async def start_unknown(engine: EngineDep, state: str, task_name: str) -> None:
    spec = engine.registry.get(state, task_name)  # raises the precise 404
    raise instance_task_needs_token(spec)  # a static task matched its own route above
