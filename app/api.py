"""The FastAPI app Reflex mounts its own backend under (`api_transformer`): one
router per resource, each in the module named after it."""

from __future__ import annotations

from fastapi import APIRouter

from app import admin_api, catalog, lifecycle, results, service, websockets
from app.body_limit import BodyLimit
from app.errors import install_error_handlers
from app.fallback import fallback_router
from app.fastlane import API_PATHS
from app.openapi import SpyGlassAPI
from app.starts import DIRECT_PATH, start_docs, start_router
from app.websockets import UnknownWebSocketPaths
from tasks.engine import Engine

DESCRIPTION = """Start monitored background tasks, read their results, stream their progress.

Errors are JSON: `{"code": ..., "message": ..., "hint": ...}`; WebSockets close with 4000 + the HTTP status.

Who may do what: an admin session (`Authorization: Bearer sga…`) everything; a client token its own tasks;
no token: start static tasks and read, watch or cancel a tokenless task by its id."""

REFLEX_SOCKET_PATH = "/_event"


def create_api(engine: Engine) -> SpyGlassAPI:
    api = SpyGlassAPI(
        args_models={spec.args_model for spec in engine.registry.tasks() if spec.args_model is not None},
        documented={DIRECT_PATH: start_docs(engine.registry)},
        title="SpyGlass",
        version="0.2.0",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(api)
    # Matched in this order, route by route: the hot paths (health checks, result
    # reads, starts) first, FastAPI's own (/openapi.json, /docs) after them.
    routers: list[APIRouter] = [
        service.router,
        results.router,
        start_router(),
        lifecycle.router,
        catalog.router,
        admin_api.router,
    ]
    # Every route straight on the app: an included router is matched twice per
    # request, route by route, which cost more than some routes' own work.
    docs_routes = list(api.router.routes)
    api.router.routes.clear()
    for router in [*routers, websockets.router]:
        api.router.routes.extend(router.routes)
    api.router.routes.extend([*docs_routes, *fallback_router(routers).routes])
    api.add_middleware(UnknownWebSocketPaths, known_prefixes=("/ws/", REFLEX_SOCKET_PATH))
    api.add_middleware(BodyLimit, limit=lambda: engine.settings.max_body_bytes, paths=API_PATHS)
    return api
