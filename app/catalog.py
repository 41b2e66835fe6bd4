"""`GET /api/catalog`: every state and task this server runs, with the JSON schema
of each task's arguments, so clients and the dashboard's start form build on it."""

from __future__ import annotations

from fastapi import APIRouter

from app.dependencies import AccessDep, EngineDep
from app.errors import error_responses
from app.schemas import Catalog, StateInfo, TaskInfo
from tasks.registry import TaskSpec

router = APIRouter(tags=["lifecycle"])


def start_path(spec: TaskSpec) -> str:
    if spec.is_static:
        return f"/api/{spec.state}/task/start/{spec.name}"
    return f"/api/{spec.state}/tasks/{{client_token}}/start/{spec.name}"


@router.get(
    "/api/catalog",
    response_model=Catalog,
    responses=error_responses(401, 413, 503),
    summary="Every state and task, with its args JSON schema",
)
async def catalog(engine: EngineDep, _: AccessDep) -> Catalog:
    """Open to anyone, unless SPYGLASS_REQUIRE_TOKEN asks every caller for a token."""
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
                start=start_path(spec),
            )
            for spec in state.tasks.values()
        ]
        states.append(StateInfo(name=state.name, module=state.module, readme=state.readme, tasks=tasks))
    return Catalog(states=states)
