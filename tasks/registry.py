"""Discovers tasks: every module or package under `states/` is a route name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from tasks.decorator import TaskOptions, task_options
from tasks.errors import InvalidArgs, UnknownState, UnknownTask
from tasks.jsondata import UnsafeJson, check_json

_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class TaskSpec:
    """Everything the engine knows about one task, read off its signature."""

    state: str
    name: str
    fn: Callable[..., Any]
    is_static: bool
    options: TaskOptions
    state_class: type
    args_param: str | None = None
    args_model: type[BaseModel] | None = None
    args_default: BaseModel | None = None
    requires_args: bool = False

    @property
    def doc(self) -> str:
        """First paragraph of the docstring: the one-line story a catalog shows."""
        text = inspect.getdoc(self.fn) or ""
        return text.split("\n\n", 1)[0].strip()

    def parse_args(self, raw: Any) -> BaseModel | None:
        """Validate a request body (already JSON-decoded; None when empty)."""
        if self.args_model is None:
            return None
        if raw is None:
            if self.requires_args:
                raise InvalidArgs(
                    f"task {self.name!r} needs arguments",
                    hint=f"send a JSON object matching {self.args_model.__name__}",
                    details=[{"loc": ["body"], "msg": "Field required", "type": "missing"}],
                )
            return self.args_default
        try:
            check_json(raw, "the arguments")
        except UnsafeJson as exc:
            raise InvalidArgs(str(exc), details=[{"loc": ["body"], "msg": str(exc), "type": "unsafe_json"}]) from None
        try:
            return self.args_model.model_validate(raw)
        except ValidationError as exc:
            raise InvalidArgs(
                f"invalid arguments for task {self.name!r}",
                details=[
                    {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                    for err in exc.errors(include_url=False, include_context=False)
                ],
            ) from None


@dataclass
class StateSpec:
    """One route name: a module under `states/` and the tasks its classes define."""

    name: str
    module: str
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    readme: str | None = None


def _args_parameter(fn: Callable[..., Any], is_static: bool) -> tuple[str | None, type[BaseModel] | None, Any]:
    params = list(inspect.signature(fn).parameters.values())[1 if is_static else 2 :]
    if not params:
        return None, None, _NO_DEFAULT
    if len(params) > 1:
        raise TypeError(f"{fn.__qualname__}: a task takes (task, task_args) and nothing more")
    hints = typing.get_type_hints(fn)
    model = hints.get(params[0].name)
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise TypeError(f"{fn.__qualname__}: annotate {params[0].name!r} with a pydantic model")
    default = params[0].default
    if default is not _NO_DEFAULT and default is not None and not isinstance(default, model):
        raise TypeError(f"{fn.__qualname__}: the default of {params[0].name!r} must be None or a {model.__name__}")
    return params[0].name, model, default


def _read_readme(module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)  # built-in or generated modules have none
    if not file:
        return None
    path = Path(file)
    candidates = [path.parent / "README.md"] if path.name == "__init__.py" else [path.with_suffix(".md")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None


ORIGINAL_TASK_FN = "__spyglass_task_fn__"


def _task_functions(cls: type) -> Iterable[tuple[str, Callable[..., Any], bool, TaskOptions]]:
    """Marked static methods, and marked instance methods (which a framework may
    have wrapped, e.g. as a Reflex event handler: the original is kept on the wrapper)."""
    for name, member in vars(cls).items():
        fn = getattr(member, "fn", member)
        options = task_options(fn)
        if options is None:
            continue
        is_static = isinstance(fn, staticmethod)
        original = fn.__func__ if is_static else getattr(fn, ORIGINAL_TASK_FN, fn)
        yield name, original, is_static, options


class Registry:
    """Route name -> StateSpec, filled by importing modules and reading their marks."""

    def __init__(self) -> None:
        self._states: dict[str, StateSpec] = {}

    def discover(self, package: str = "states", extra_modules: Iterable[str] = ()) -> Registry:
        pkg = importlib.import_module(package)
        names = [f"{package}.{info.name}" for info in pkgutil.iter_modules(pkg.__path__)]
        for module_name in [*names, *extra_modules]:
            self.add_module(importlib.import_module(module_name))
        return self

    def add_module(self, module: ModuleType) -> None:
        classes = [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__]
        found = [(cls, *item) for cls in classes for item in _task_functions(cls)]
        if not found:
            return
        route = next((getattr(cls, "route_name", None) for cls in classes if getattr(cls, "route_name", None)), None)
        state = StateSpec(
            name=route or module.__name__.rsplit(".", 1)[-1], module=module.__name__, readme=_read_readme(module)
        )
        for cls, name, fn, is_static, options in found:
            if name in state.tasks:
                raise TypeError(f"task {name!r} is defined twice in {module.__name__}")
            param, model, default = _args_parameter(fn, is_static)
            state.tasks[name] = TaskSpec(
                state=state.name,
                name=name,
                fn=fn,
                is_static=is_static,
                options=options,
                state_class=cls,
                args_param=param,
                args_model=model,
                args_default=None if default is _NO_DEFAULT else default,
                requires_args=model is not None and default is _NO_DEFAULT,
            )
        if state.name in self._states and self._states[state.name].module != module.__name__:
            raise TypeError(f"state name {state.name!r} is used by two modules")
        self._states[state.name] = state

    def states(self) -> list[StateSpec]:
        return list(self._states.values())

    def tasks(self) -> list[TaskSpec]:
        return [task for state in self._states.values() for task in state.tasks.values()]

    def state(self, name: str) -> StateSpec:
        try:
            return self._states[name]
        except KeyError:
            raise UnknownState(f"unknown state {name!r}", hint="GET /docs lists every state and task") from None

    def get(self, state: str, task: str) -> TaskSpec:
        spec = self.state(state)
        try:
            return spec.tasks[task]
        except KeyError:
            raise UnknownTask(
                f"unknown task {task!r} in state {state!r}",
                hint=f"tasks of {state!r}: {', '.join(sorted(spec.tasks)) or 'none'}",
            ) from None
