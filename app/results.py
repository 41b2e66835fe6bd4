"""`GET /api/<state>/task/result/<task_id>`: a task's snapshot, long-polled with
`?wait=` until it ends."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.dependencies import EngineDep, TokenDep
from app.errors import error_responses
from app.schemas import TaskOut, task_response

router = APIRouter(tags=["tasks"])


@router.get(
    "/api/{state}/task/result/{task_id}",
    response_model=TaskOut,
    responses=error_responses(400, 401, 404, 422, 503),
    summary="A task's snapshot; ?wait=S long-polls until it ends",
)
async def result(
    engine: EngineDep,
    token: TokenDep,
    state: str,
    task_id: str,
    wait: float = Query(
        0,
        ge=0,
        allow_inf_nan=False,
        description="Seconds to wait for a terminal status; the server waits at most "
        "SPYGLASS_MAX_WAIT_SECONDS (60 s unless set) whatever is asked.",
    ),
) -> Response:
    engine.registry.state(state)
    access = await engine.access_for(token, state)
    timeout = min(wait, engine.settings.max_wait_seconds)
    return task_response(await engine.wait(task_id, timeout, access))
