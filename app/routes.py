"""HTTP routes of the original SpyGlass API: start a task, read its result."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic.json_schema import models_json_schema

from app.errors import ERROR_RESPONSES, ErrorBody, InvalidJson, error_response
from app.schemas import Health, Readiness, TaskOut, task_response
from tasks.auth import Client
from tasks.engine import Engine
from tasks.errors import InvalidRequest
from tasks.registry import TaskSpec


async def read_json_body(request: Request) -> Any:
    """None for an empty body; the decoded JSON otherwise (any content type)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}", hint="send a JSON object, e.g. -d '{}'") from None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header ("" if the header is
    there but empty, which is then refused), None without such a header."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def caller(engine: Engine, request: Request) -> Client | None:
    """The client behind a Bearer token (401 if the token is bad), or None if none was sent;
    with SPYGLASS_REQUIRE_TOKEN a token is mandatory on the direct routes too."""
    token = bearer_token(request.headers)
    if token is None and not engine.settings.require_token:
        return None
    return await engine.authenticate(token)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidRequest("Idempotency-Key must be 1 to 200 characters")
    return key


async def start_from_request(
    engine: Engine, spec: TaskSpec, request: Request, client: Client | None, token: str | None = None
) -> Response:
    """The one start path of both routes: 202 for a new task, 200 for an idempotent repeat."""
    args = spec.parse_args(await read_json_body(request))
    snap, created = await engine.submit(spec, args, client.name if client else None, idempotency_key(request))
    return task_response(snap, status_code=202 if created else 200, token=token)


def _direct_start(engine: Engine, spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    async def start(request: Request) -> Response:
        return await start_from_request(engine, spec, request, await caller(engine, request))

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
    "schema": {"type": "string", "maxLength": 200},
    "description": "A repeat with the same key (same client) returns the first task with 200; "
    "the same key with other arguments is 409.",
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
            "responses": ERROR_RESPONSES,
            "tags": [spec.state],
            "openapi_extra": _start_openapi(spec),
        }
        router.add_api_route(
            f"/api/{spec.state}/task/start/{spec.name}",
            _direct_start(engine, spec),
            summary=f"Start {spec.state}.{spec.name}",
            description=spec.doc
            + ("" if spec.is_static else "\n\nInstance task: answers 401 here; start it on the client-token route."),
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
        engine.registry.get(state, task_name)  # raises the precise 404

    @router.get(
        "/api/{state}/task/result/{task_id}",
        response_model=TaskOut,
        responses=ERROR_RESPONSES,
        tags=["tasks"],
        summary="A task's snapshot; ?wait=S long-polls until it ends",
    )
    async def result(
        request: Request,
        state: str,
        task_id: str,
        wait: float = Query(0, ge=0, description="Seconds to wait for a terminal status (capped by the server)."),
    ) -> Response:
        engine.registry.state(state)
        access = await engine.access_for(bearer_token(request.headers), state)
        timeout = min(wait, engine.settings.max_wait_seconds)
        return task_response(await engine.wait(task_id, timeout, access))

    @router.get("/health", response_model=Health, tags=["service"], summary="The process is up")
    async def health() -> Health:
        return Health(status="ok")

    @router.get("/ready", response_model=Readiness, tags=["service"], summary="Store and bus are reachable")
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

    @router.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown_api_route(path: str) -> JSONResponse:
        return error_response(404, ErrorBody(code="not_found", message=f"no API route /api/{path}", hint="see /docs"))

    return router


def install_args_schemas(api: FastAPI, engine: Engine) -> None:
    """Put every task's args model in OpenAPI components, so /docs shows the body schema."""
    models = {spec.args_model for spec in engine.registry.tasks() if spec.args_model is not None}
    if not models:
        return
    original = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = original()
        _, defs = models_json_schema(
            [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]
