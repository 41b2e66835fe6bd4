"""A task with typed arguments: the request body is validated against `InputArgs`."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from states.example_task import ExampleTaskState
from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class InputArgs(BaseModel):
    name: str
    age: int


DEFAULT_TASK_ARGS = InputArgs(name="World", age=42)


class ExampleTaskState2(MonitorState):
    task1 = staticmethod(ExampleTaskState.task1)  # the same task1 as example_task, under this route

    @staticmethod
    @monitored_background_task
    async def task2_with_args(task: TaskContext, task_args: InputArgs = DEFAULT_TASK_ARGS) -> str:
        """Ten steps of 10%, half a second apart, greeting the given person."""
        for i in range(10):
            await task.update(progress=(i + 1) * 10, status=TaskStatus.PROCESSING)
            await asyncio.sleep(0.5)
        return f"Completed task for {task_args.name}, age {task_args.age}"
