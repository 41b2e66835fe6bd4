"""The FastAPI app Reflex mounts its own backend under (`api_transformer`)."""

from __future__ import annotations

from fastapi import FastAPI

from app.admin_api import admin_router
from app.errors import install_error_handlers
from app.lifecycle import lifecycle_router
from app.limits import BodyLimitMiddleware
from app.openapi import install_args_schemas
from app.routes import fallback_router, task_router
from app.websockets import UnknownWebSocketPaths, ws_router
from tasks.engine import Engine

DESCRIPTION = """Start monitored background tasks, read their results, stream their progress.

Errors are JSON: `{"code": ..., "message": ..., "hint": ...}`; WebSockets close with 4000 + the HTTP status.

Who may do what: an admin session (`Authorization: Bearer sga…`) everything; a client token its own tasks;
no token: start static tasks and read, watch or cancel a tokenless task by its id."""

REFLEX_SOCKET_PATH = "/_event"


def create_api(engine: Engine) -> FastAPI:
    api = FastAPI(title="SpyGlass", version="0.2.0", description=DESCRIPTION, docs_url="/docs", redoc_url=None)
    install_error_handlers(api)
    routers = [admin_router(engine), lifecycle_router(engine), task_router(engine), ws_router(engine)]
    for router in routers:
        api.include_router(router)
    api.include_router(fallback_router(routers))
    install_args_schemas(api, engine)
    api.add_middleware(BodyLimitMiddleware, max_bytes=engine.settings.max_body_bytes)
    api.add_middleware(UnknownWebSocketPaths, known_prefixes=("/ws/", REFLEX_SOCKET_PATH))
    return api
