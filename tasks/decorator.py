"""`@monitored_background_task`: marks an async method as a SpyGlass task."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

TASK_MARKER = "__spyglass_task__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TaskOptions:
    """Per-task knobs; None means the engine's default."""

    timeout: float | None = None
    warn_before: float | None = None
    max_concurrency: int | None = None
    retention: float | None = None
    retries: int = 0
    retry_backoff: float = 1.0

    def __post_init__(self) -> None:
        for name in ("timeout", "warn_before", "retention", "retry_backoff"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency!r}")
        if not 0 <= self.retries <= 100:
            raise ValueError(f"retries must be between 0 and 100, got {self.retries!r}")


@overload
def monitored_background_task(fn: F) -> F: ...


@overload
def monitored_background_task(
    fn: None = None,
    *,
    timeout: float | None = None,
    warn_before: float | None = None,
    max_concurrency: int | None = None,
    retention: float | None = None,
    retries: int = 0,
    retry_backoff: float = 1.0,
) -> Callable[[F], F]: ...


def monitored_background_task(
    fn: Any = None,
    *,
    timeout: float | None = None,
    warn_before: float | None = None,
    max_concurrency: int | None = None,
    retention: float | None = None,
    retries: int = 0,
    retry_backoff: float = 1.0,
) -> Any:
    """Register an async function as a monitored task; usable bare or with options.

    The function itself is returned unchanged (only marked), so it stays a plain
    coroutine function that tests can call and Reflex can wrap.
    """
    options = TaskOptions(
        timeout=timeout,
        warn_before=warn_before,
        max_concurrency=max_concurrency,
        retention=retention,
        retries=retries,
        retry_backoff=retry_backoff,
    )

    def mark(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@monitored_background_task needs an async def, got {func!r}")
        setattr(func, TASK_MARKER, options)
        return func

    return mark(fn) if fn is not None else mark


def task_options(obj: Any) -> TaskOptions | None:
    """The options of a marked function, also when wrapped in a staticmethod."""
    func = obj.__func__ if isinstance(obj, staticmethod) else obj
    return getattr(func, TASK_MARKER, None)
