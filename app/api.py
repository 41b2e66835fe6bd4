"""The FastAPI app Reflex mounts its own backend under (`api_transformer`)."""

from __future__ import annotations

from fastapi import FastAPI

from app.admin_api import admin_router
from app.errors import install_error_handlers
from app.lifecycle import lifecycle_router
from app.limits import BodyLimitMiddleware
from app.routes import task_router, install_args_schemas
from app.websockets import ws_router
from tasks.engine import Engine

DESCRIPTION = """Start monitored background tasks, read their results, stream their progress.

Errors are JSON: `{"code": ..., "message": ..., "hint": ...}`; WebSockets close with 4000 + the HTTP status."""


def create_api(engine: Engine) -> FastAPI:
    api = FastAPI(title="SpyGlass", version="0.1.0", description=DESCRIPTION, docs_url="/docs", redoc_url=None)
    install_error_handlers(api)
    api.include_router(admin_router(engine))
    api.include_router(lifecycle_router(engine))
    api.include_router(task_router(engine))
    api.include_router(ws_router(engine))
    install_args_schemas(api, engine)
    api.add_middleware(BodyLimitMiddleware, max_bytes=engine.settings.max_body_bytes)
    return api
