"""Start routes: the direct route `POST /api/<state>/task/start/<task>` (static
tasks) and the token route `POST /api/<state>/tasks/<client_token>/start/<task>`,
both through one start path. Two lean routes serve every task; OpenAPI shows one
operation per task, with that task's own arguments (`start_docs`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app.dependencies import optional_client
from app.errors import error_responses
from app.lean_route import BEARER_SECURITY, LeanRoute, path_parameter
from app.openapi import args_schema_ref
from app.requests import bearer_token, idempotency_key, read_json_body
from app.schemas import TaskOut, task_response
from app.sse import KEEPALIVE_SECONDS, sse_response
from app.stream_guard import TokenGuard
from tasks.access import Access
from tasks.auth import Client
from tasks.engine import Engine, get_engine, instance_task_needs_token
from tasks.registry import Registry, TaskSpec
from tasks.streams import task_events

EVENT_STREAM = "text/event-stream"
DIRECT_PATH = "/api/{state}/task/start/{task_name}"
TOKEN_PATH = "/api/{state}/tasks/{client_token}/start/{task_name}"


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


async def direct_start(request: Request) -> Response:
    engine = get_engine()
    spec = engine.registry.get(request.path_params["state"], request.path_params["task_name"])  # the precise 404
    if not spec.is_static:
        raise instance_task_needs_token(spec)
    token = bearer_token(request.headers)
    client = await optional_client(engine, token)
    return await start_from_request(engine, spec, request, client, token if client else None)


async def token_start(request: Request) -> Response:
    engine = get_engine()
    client_token: str = request.path_params["client_token"]
    client = await engine.authenticate(client_token)
    spec = engine.registry.get(request.path_params["state"], request.path_params["task_name"])
    return await start_from_request(engine, spec, request, client, client_token)


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


def _start_openapi(spec: TaskSpec, *, token_route: bool) -> dict[str, Any]:
    """The args model as request body, the Idempotency-Key header, and the token:
    in the path of the token route, a Bearer header on the direct one."""
    extra: dict[str, Any] = (
        {"parameters": [path_parameter("client_token"), IDEMPOTENCY_PARAMETER]}
        if token_route
        else {"parameters": [IDEMPOTENCY_PARAMETER], "security": BEARER_SECURITY}
    )
    if spec.args_model is not None:
        extra["requestBody"] = {
            "required": spec.requires_args,
            "content": {"application/json": {"schema": {"$ref": args_schema_ref(spec.args_model)}}},
        }
    return extra


def start_router() -> APIRouter:
    """Two routes serve every task's starts, whichever state it belongs to: the
    task is looked up in the registry (a precise 404 for an unknown one), not
    matched route by route, which cost a start a regex per task registered."""
    router = APIRouter(route_class=LeanRoute)
    router.add_api_route(DIRECT_PATH, direct_start, methods=["POST"], include_in_schema=False)
    router.add_api_route(TOKEN_PATH, token_start, methods=["POST"], include_in_schema=False)
    return router


def _task_path(route_path: str, spec: TaskSpec) -> str:
    """The route's path for one task: its state and name filled in, the token left a parameter."""
    return route_path.replace("{state}", spec.state).replace("{task_name}", spec.name)


def start_docs(registry: Registry) -> list[APIRoute]:
    """What OpenAPI shows of the start routes: one operation per registered task,
    with its own args schema. Documentation only: `start_router` serves them."""
    router = APIRouter(route_class=LeanRoute)
    for spec in registry.tasks():
        common: dict[str, Any] = {
            "methods": ["POST"],
            "status_code": 202,
            "response_model": TaskOut,
            "responses": START_RESPONSES,
            "tags": [spec.state],
        }
        if spec.is_static:
            router.add_api_route(
                _task_path(DIRECT_PATH, spec),
                direct_start,
                summary=f"Start {spec.state}.{spec.name}",
                description=spec.doc,
                operation_id=f"start_{spec.state}_{spec.name}",
                openapi_extra=_start_openapi(spec, token_route=False),
                **common,
            )
        router.add_api_route(
            _task_path(TOKEN_PATH, spec),
            token_start,
            summary=f"Start {spec.state}.{spec.name} for the token's client",
            description=spec.doc + "\n\nThe task is owned by the client; only its tokens see it.",
            operation_id=f"start_{spec.state}_{spec.name}_for_client",
            openapi_extra=_start_openapi(spec, token_route=True),
            **common,
        )
    return [route for route in router.routes if isinstance(route, APIRoute)]
