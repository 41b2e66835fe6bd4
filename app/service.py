"""Service routes for load balancers and supervisors: `/health` (the process
answers) and `/ready` (its store and bus answer too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.dependencies import EngineDep
from app.schemas import Health, Readiness

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, summary="The process is up")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Store and bus are reachable",
    responses={503: {"model": Readiness, "description": "The store or the bus is not reachable"}},
)
async def ready(engine: EngineDep) -> Any:
    checks = await engine.readiness()
    if all(value == "ok" for value in checks.values()):
        return Readiness(status="ready", **checks)
    return JSONResponse(Readiness(status="unavailable", **checks).model_dump(), status_code=503)


# Load balancers often check with HEAD: the same answers, headers only.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)
