"""The smallest monitored task: three progress steps and a result."""

from __future__ import annotations

import asyncio

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class ExampleTaskState(MonitorState):
    @staticmethod
    @monitored_background_task
    async def task1(task: TaskContext) -> str:
        """Three steps of a third each, half a second apart."""
        for progress in (33, 66, 99):
            await task.update(progress=progress, status=TaskStatus.PROCESSING)
            await asyncio.sleep(0.5)
        return "<Task1 Result>"
