"""`GET /api/<state>/task/result/<task_id>`: a task's snapshot, long-polled with
`?wait=` until it ends. A lean route (app/lean_route.py): the hot path of
every HTTP client that starts a task and waits for it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.errors import error_responses
from app.lean_route import BEARER_SECURITY, LeanRoute, NonNegativeSeconds, QueryParameter, path_parameter
from app.requests import bearer_token
from app.schemas import TaskOut, task_response
from tasks.engine import get_engine

router = APIRouter(tags=["tasks"], route_class=LeanRoute)

WAIT = QueryParameter(
    "wait",
    NonNegativeSeconds,
    0,
    "Seconds to wait for a terminal status; the server waits at most "
    "SPYGLASS_MAX_WAIT_SECONDS (60 s unless set) whatever is asked.",
)


@router.get(
    "/api/{state}/task/result/{task_id}",
    response_model=TaskOut,
    responses=error_responses(400, 401, 404, 422, 503),
    summary="A task's snapshot; ?wait=S long-polls until it ends",
    openapi_extra={
        "parameters": [path_parameter("state"), path_parameter("task_id"), WAIT.openapi],
        "security": BEARER_SECURITY,
    },
)
async def result(request: Request) -> Response:
    engine = get_engine()
    wait = WAIT.read(request)
    state = request.path_params["state"]
    engine.registry.state(state)
    access = await engine.access_for(bearer_token(request.headers), state)
    timeout = min(wait, engine.settings.max_wait_seconds)
    return task_response(await engine.wait(request.path_params["task_id"], timeout, access))
