"""An instance task: it runs on the client's own state and writes to its vars as
it goes, so any browser showing that client watches `processed` grow live."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class CountArgs(BaseModel):
    items: list[str] = Field(default_factory=lambda: ["alpha", "beta", "gamma"], max_length=1000)
    delay: float = Field(default=0.3, ge=0, le=10)


DEFAULT_COUNT_ARGS = CountArgs()


class CounterState(MonitorState):
    count: int = 0
    processed: list[str] = []

    @monitored_background_task
    async def process_items(self, task: TaskContext, task_args: CountArgs = DEFAULT_COUNT_ARGS) -> dict[str, int]:
        """Processes each item in turn, recording it on the client's state."""
        for i, item in enumerate(task_args.items):
            async with self:
                self.count += 1
                self.processed.append(item)
            await task.update(progress=100 * (i + 1) / len(task_args.items), status=TaskStatus.PROCESSING, message=item)
            await asyncio.sleep(task_args.delay)
        async with self:
            total = self.count
        return {"processed": len(task_args.items), "count": total}
