"""HTTP routes of the original SpyGlass API: start a task, read its result; and
the service routes (/health, /ready) and the JSON answer for unknown API paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from app.errors import ErrorBody, error_response, error_responses
from app.requests import bearer_token, idempotency_key, read_json_body
from app.schemas import Health, Readiness, TaskOut, task_response
from app.sse import KEEPALIVE_SECONDS, sse_response
from app.stream_guard import TokenGuard
from tasks.access import Access
from tasks.auth import Client
from tasks.engine import Engine, instance_task_needs_token
from tasks.registry import TaskSpec
from tasks.streams import task_events

EVENT_STREAM = "text/event-stream"


async def caller(engine: Engine, request: Request) -> Client | None:
    """The client behind a Bearer token (401 if the token is bad), or None if none was sent;
    with SPYGLASS_REQUIRE_TOKEN a token is mandatory on the direct routes too."""
    token = bearer_token(request.headers)
    if token is None and not engine.settings.require_token:
        return None
    return await engine.authenticate(token)


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
    return await sse_response(stream, engine.settings.sse_heartbeat_seconds, guard, headers)


def _direct_start(engine: Engine, spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    async def start(request: Request) -> Response:
        client = await caller(engine, request)
        return await start_from_request(
            engine, spec, request, client, bearer_token(request.headers) if client else None
        )

    return start


def _token_start(engine: Engine, spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    async def start(request: Request, client_token: str) -> Response:
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
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{spec.args_model.__name__}"}}},
        }
    return extra


def task_router(engine: Engine) -> APIRouter:
    router = APIRouter()
    for spec in engine.registry.tasks():
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
                _direct_start(engine, spec),
                summary=f"Start {spec.state}.{spec.name}",
                description=spec.doc,
                operation_id=f"start_{spec.state}_{spec.name}",
                **common,
            )
        router.add_api_route(
            f"/api/{spec.state}/tasks/{{client_token}}/start/{spec.name}",
            _token_start(engine, spec),
            summary=f"Start {spec.state}.{spec.name} for the token's client",
            description=spec.doc + "\n\nThe task is owned by the client; only its tokens see it.",
            operation_id=f"start_{spec.state}_{spec.name}_for_client",
            **common,
        )

    @router.post("/api/{state}/tasks/{client_token}/start/{task_name}", include_in_schema=False)
    async def token_start_unknown(state: str, client_token: str, task_name: str) -> None:
        await engine.authenticate(client_token)
        engine.registry.get(state, task_name)  # raises the precise 404

    @router.post("/api/{state}/task/start/{task_name}", include_in_schema=False)
    async def start_unknown(state: str, task_name: str) -> None:
        spec = engine.registry.get(state, task_name)  # raises the precise 404
        raise instance_task_needs_token(spec)  # a static task matched its own route above

    @router.get(
        "/api/{state}/task/result/{task_id}",
        response_model=TaskOut,
        responses=error_responses(400, 401, 404, 422, 503),
        tags=["tasks"],
        summary="A task's snapshot; ?wait=S long-polls until it ends",
    )
    async def result(
        request: Request,
        state: str,
        task_id: str,
        wait: float = Query(
            0,
            ge=0,
            allow_inf_nan=False,
            description=f"Seconds to wait for a terminal status; the server waits at most "
            f"SPYGLASS_MAX_WAIT_SECONDS ({engine.settings.max_wait_seconds:g} s) whatever is asked.",
        ),
    ) -> Response:
        engine.registry.state(state)
        access = await engine.access_for(bearer_token(request.headers), state)
        timeout = min(wait, engine.settings.max_wait_seconds)
        return task_response(await engine.wait(task_id, timeout, access))

    @router.get("/health", response_model=Health, tags=["service"], summary="The process is up")
    async def health() -> Health:
        return Health(status="ok")

    @router.get(
        "/ready",
        response_model=Readiness,
        tags=["service"],
        summary="Store and bus are reachable",
        responses={503: {"model": Readiness, "description": "The store or the bus is not reachable"}},
    )
    async def ready() -> Any:
        checks = {"store": engine.store.ping, "bus": engine.bus.ping}
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                if not engine.started:
                    raise RuntimeError("engine not started")
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {exc}"
        if all(value == "ok" for value in results.values()):
            return Readiness(status="ready", **results)
        return JSONResponse(Readiness(status="unavailable", **results).model_dump(), status_code=503)

    return router


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
