"""`StartFormState`: start any task from a form built from its args JSON schema."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import reflex as rx

from states.admin_guard import AdminState
from tasks.engine import get_engine
from tasks.errors import InvalidArgs, TaskError
from tasks.registry import TaskSpec

DIRECT = "(direct)"
DOUBLE_CLICK_SECONDS = 1.5


@dataclass
class FormField:
    name: str = ""
    label: str = ""
    kind: str = "text"  # text | number | integer | boolean | json
    required: bool = False
    description: str = ""


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        kinds = [s.get("type") for s in schema["anyOf"] if s.get("type") != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}.get(kind or "", "json")


def form_fields(spec: TaskSpec) -> tuple[list[FormField], dict[str, str]]:
    """Fields and their default values (as text) for a task's args model."""
    if spec.args_model is None:
        return [], {}
    schema = spec.args_model.model_json_schema()
    required = set(schema.get("required", []))
    fields, values = [], {}
    defaults = spec.args_default.model_dump(mode="json") if spec.args_default is not None else {}
    for name, prop in schema.get("properties", {}).items():
        kind = _kind(prop)
        fields.append(
            FormField(
                name=name,
                label=prop.get("title", name),
                kind=kind,
                required=name in required,
                description=prop.get("description", ""),
            )
        )
        default = defaults.get(name, prop.get("default"))
        if default is None:
            values[name] = ""
        elif kind == "json":
            values[name] = json.dumps(default)
        elif kind == "boolean":
            values[name] = "true" if default else "false"
        else:
            values[name] = str(default)
    return fields, values


def parse_value(kind: str, text: str) -> Any:
    """Text from an input -> the JSON value for the args model (validation is the model's)."""
    if text == "":
        return None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return text == "true"
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidJsonField(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    return text


class InvalidJsonField(ValueError):
    """A JSON field whose text does not parse: said as such, not as a type error."""


class StartFormState(AdminState):
    choice: str = ""
    fields: list[FormField] = []
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    doc: str = ""
    readme: str = ""
    instance: bool = False
    client: str = DIRECT
    clients: list[str] = [DIRECT]
    started: str = ""
    failure: str = ""
    submitting: bool = False
    _last_start: float = 0.0  # when this form last started a task (epoch seconds)

    @rx.var
    def choices(self) -> list[str]:
        return [f"{spec.state}.{spec.name}" for spec in get_engine().registry.tasks()]

    @rx.event
    async def load(self) -> None:
        tokens = await get_engine().auth.list()
        self.clients = [DIRECT, *sorted({t.client for t in tokens if t.status == "active"})]
        wanted = self.router.url.query_parameters.get("task", "")
        if wanted in self.choices:
            self._choose(wanted)
        elif not self.choice:
            statics = [f"{s.state}.{s.name}" for s in get_engine().registry.tasks() if s.is_static]
            self._choose(statics[0] if statics else (self.choices[0] if self.choices else ""))

    def _spec(self) -> TaskSpec:
        state, _, name = self.choice.partition(".")
        return get_engine().registry.get(state, name)

    @rx.event
    def choose(self, choice: str) -> None:
        if choice not in self.choices:  # a browser may send anything
            self.failure = "no such task"
            return
        self._choose(choice)

    def _choose(self, choice: str) -> None:
        self.choice, self.errors, self.started, self.failure = choice, {}, "", ""
        if not choice:
            return
        spec = self._spec()
        self.fields, self.values = form_fields(spec)
        self.doc = spec.doc
        self.readme = get_engine().registry.state(spec.state).readme or ""
        self.instance = not spec.is_static
        if not self.instance:
            self.client = DIRECT  # a static task starts tokenless unless an owner is chosen again
        elif self.client == DIRECT and len(self.clients) > 1:
            self.client = self.clients[1]

    @rx.event
    def set_value(self, name: str, value: str) -> None:
        self.values = {**self.values, name: value}
        self.errors = {k: v for k, v in self.errors.items() if k != name}

    @rx.event
    def set_client(self, value: str) -> None:
        self.client = value if value in self.clients else DIRECT

    @rx.event
    async def submit(self) -> None:
        """One click, one task: the button is disabled while a start is in flight, and
        a second click within DOUBLE_CLICK_SECONDS of a start (a double click, whose
        second event waits for the first) starts nothing. A deliberate second start
        after that works."""
        if self.submitting or time.time() - self._last_start < DOUBLE_CLICK_SECONDS:
            return
        self.errors, self.started, self.failure = {}, "", ""
        try:
            spec = self._spec()
        except TaskError as exc:  # the choice, set through Reflex's setvar, names no task
            self.failure = exc.message
            return
        kinds = {f.name: f.kind for f in self.fields}
        body: dict[str, Any] = {}
        for name, text in self.values.items():
            if text == "" or name not in kinds:
                continue
            try:
                body[name] = parse_value(kinds[name], text)
            except InvalidJsonField as exc:
                self.errors = {**self.errors, name: str(exc)}
        if self.errors:
            self.failure = "some fields are not valid"
            return
        client = None if self.client == DIRECT else self.client
        self.submitting = True
        try:
            args = spec.parse_args(body if spec.args_model is not None else None)
            snap = await get_engine().start_task(spec, args, client)
        except InvalidArgs as exc:
            self.errors = {str(d["loc"][1]) if len(d["loc"]) > 1 else "": d["msg"] for d in exc.details or []}
            self.failure = exc.message
            return
        except TaskError as exc:
            self.failure = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return
        finally:
            self.submitting = False
        self.started = snap.task_id
        self._last_start = time.time()
