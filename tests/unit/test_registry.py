"""The registry reads tasks off their signatures; a mistake in a state module is
a clear TypeError at start-up, and an unknown name a precise 404."""

from __future__ import annotations

import types

import pytest
from pydantic import BaseModel

from tasks import TaskContext, monitored_background_task
from tasks.errors import UnknownState, UnknownTask
from tasks.registry import Registry


class Args(BaseModel):
    n: int = 1


def _module(name: str, **classes: type) -> types.ModuleType:
    module = types.ModuleType(name)
    for cls_name, cls in classes.items():
        cls.__module__ = name
        cls.__qualname__ = cls_name
        setattr(module, cls_name, cls)
    return module


def _registry_of(name: str, cls: type) -> Registry:
    registry = Registry()
    registry.add_module(_module(name, State=cls))
    return registry


def test_a_task_is_registered_under_its_module_name_with_its_args_model_and_default() -> None:
    class State:
        @staticmethod
        @monitored_background_task(timeout=5)
        async def work(task: TaskContext, args: Args = Args(n=7)) -> int:  # noqa: B008
            """Does the work.

            More detail."""
            return args.n

    spec = _registry_of("pkg.jobs", State).get("jobs", "work")
    assert (spec.state, spec.name, spec.is_static, spec.doc) == ("jobs", "work", True, "Does the work.")
    assert spec.args_model is Args and not spec.requires_args
    assert spec.args_default == Args(n=7) and spec.options.timeout == 5


def test_args_without_a_default_are_required() -> None:
    class State:
        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext, args: Args) -> None:
            return None

    spec = _registry_of("jobs", State).get("jobs", "work")
    assert spec.requires_args and spec.args_default is None


def test_unknown_states_and_tasks_are_404s_that_name_what_exists() -> None:
    class State:
        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext) -> None:
            return None

    registry = _registry_of("jobs", State)
    with pytest.raises(UnknownState) as state_error:
        registry.state("nope")
    assert state_error.value.http_status == 404
    with pytest.raises(UnknownTask) as task_error:
        registry.get("jobs", "nope")
    assert task_error.value.http_status == 404 and "work" in (task_error.value.hint or "")


def test_a_task_with_more_than_one_argument_is_refused() -> None:
    class State:
        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext, a: Args, b: Args) -> None:
            return None

    with pytest.raises(TypeError, match="nothing more"):
        _registry_of("jobs", State)


def test_arguments_must_be_a_pydantic_model() -> None:
    class State:
        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext, n: int) -> None:
            return None

    with pytest.raises(TypeError, match="pydantic model"):
        _registry_of("jobs", State)


def test_a_default_of_another_type_than_the_model_is_refused() -> None:
    class State:
        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext, args: Args = 3) -> None:  # type: ignore[assignment]
            return None

    with pytest.raises(TypeError, match="must be None or a Args"):
        _registry_of("jobs", State)


def test_two_modules_may_not_claim_one_state_name() -> None:
    class One:
        route_name = "shared"

        @staticmethod
        @monitored_background_task
        async def work(task: TaskContext) -> None:
            return None

    class Two:
        route_name = "shared"

        @staticmethod
        @monitored_background_task
        async def other(task: TaskContext) -> None:
            return None

    registry = Registry()
    registry.add_module(_module("pkg.one", State=One))
    with pytest.raises(TypeError, match="used by two modules"):
        registry.add_module(_module("pkg.two", State=Two))


def test_a_module_without_tasks_registers_nothing() -> None:
    class Plain:
        def helper(self) -> None:
            return None

    registry = Registry()
    registry.add_module(_module("pkg.plain", Plain=Plain))
    assert registry.states() == []
