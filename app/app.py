"""Reflex entry point (app_name="app"): imports every module with states or tables."""

from __future__ import annotations

import reflex as rx

import app.pages.index  # noqa: F401
import app.pages.login  # noqa: F401
import app.pages.records  # noqa: F401
import app.pages.tasks  # noqa: F401
import app.pages.tokens  # noqa: F401
import states.admin_session  # noqa: F401
import states.example_counter  # noqa: F401
import states.example_task  # noqa: F401
import states.example_task2  # noqa: F401
import states.monitor  # noqa: F401
import states.start_form  # noqa: F401
import states.task_monitor  # noqa: F401
import states.task_records  # noqa: F401
import states.token_admin  # noqa: F401
import tasks.tables  # noqa: F401
from app.api import create_api
from states.monitor import reflex_launcher
from tasks.engine import get_engine

engine = get_engine()

app = rx.App(api_transformer=create_api(engine))
app.register_lifespan_task(engine.lifespan)
engine.instance_launcher = reflex_launcher(app)
