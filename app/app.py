"""Reflex entry point (app_name="app"): imports every module with states or tables."""

from __future__ import annotations

import reflex as rx
from starlette.types import ASGIApp

from app.api import create_api
from app.caching import FrontendCaching
from app.errors import JsonErrors
from app.fastlane import ApiFastLane
from app.gc_tuning import tuned_gc

# Every module that defines states or tables, so Reflex registers them.
from app.pages import index, login, records, start, tokens, workers  # noqa: F401
from app.pages import task_list as task_list_page  # noqa: F401
from app.pages import task_run as task_run_page  # noqa: F401
from states import (  # noqa: F401
    admin_guard,
    admin_session,
    example_agent,
    example_counter,
    example_flaky,
    example_shell,
    example_task,
    example_task2,
    monitor,
    start_form,
    task_list,
    task_records,
    task_run,
    token_admin,
    workers_view,
)
from states.admin_guard import AdminGuard
from states.monitor import reflex_launcher
from tasks import tables  # noqa: F401
from tasks.engine import get_engine

engine = get_engine()
api = create_api(engine)


class SpyGlassApp(rx.App):
    """The Reflex app, with JSON errors around everything it serves (Reflex's own
    outer router answers some paths, one with a newline say, before ours sees them),
    cache headers that keep a browser from holding on to an old build, and API
    requests sent straight to the API."""

    def __call__(self) -> ASGIApp:
        frontend = FrontendCaching(super().__call__())
        return JsonErrors(ApiFastLane(frontend, api, self._set_contexts_internal))


app = SpyGlassApp(
    api_transformer=api,
    stylesheets=["/dashboard.css"],
    head_components=[rx.el.link(rel="icon", href="/favicon.ico", type="image/x-icon")],
)
app.add_middleware(AdminGuard(), index=0)
app.register_lifespan_task(engine.lifespan)
app.register_lifespan_task(tuned_gc)
engine.instance_launcher = reflex_launcher(app)
