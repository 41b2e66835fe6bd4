"""Retries: a task that fails its first attempts, re-run with a doubling backoff
until it succeeds (or runs out of retries)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class FlakyArgs(BaseModel):
    failures: int = Field(default=2, ge=0, le=10, description="how many attempts fail before one succeeds")


DEFAULT_FLAKY = FlakyArgs()


class ExampleFlakyState(MonitorState):
    @staticmethod
    @monitored_background_task(retries=3, retry_backoff=0.5)
    async def unreliable(task: TaskContext, task_args: FlakyArgs = DEFAULT_FLAKY) -> str:
        """Fails its first `failures` attempts (up to 3 retries, backoff 0.5 s doubling)."""
        await task.update(progress=50, status=TaskStatus.PROCESSING, message=f"attempt {task.attempt}")
        await asyncio.sleep(0.2)
        if task.attempt <= task_args.failures:
            raise ConnectionError(f"the upstream service did not answer (attempt {task.attempt})")
        return f"succeeded on attempt {task.attempt}"
