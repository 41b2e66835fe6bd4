"""Tasks the benchmark drives; loaded only by the bench (SPYGLASS_STATE_MODULES)."""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class TickerArgs(BaseModel):
    rate: float = Field(default=1000, gt=0, le=100_000, description="updates per second")
    count: int = Field(default=3000, ge=1, le=1_000_000)
    delay: float = Field(default=0.5, ge=0, le=60, description="seconds to wait for watchers before the first update")


DEFAULT_TICKER = TickerArgs()


class BenchTasksState(MonitorState):
    @staticmethod
    @monitored_background_task
    async def noop(task: TaskContext) -> None:
        """Does nothing: measures the engine's own cost per task."""
        return

    @staticmethod
    @monitored_background_task
    async def ticker(task: TaskContext, task_args: TickerArgs = DEFAULT_TICKER) -> int:
        """`count` updates at `rate` per second; each message is the send time
        (CLOCK_MONOTONIC ns, shared by every process on the machine)."""
        await asyncio.sleep(task_args.delay)  # let the WebSocket clients attach first
        period = 1 / task_args.rate
        next_at = time.monotonic()
        for i in range(task_args.count):
            next_at += period
            await task.update(
                progress=100 * (i + 1) / task_args.count, status=TaskStatus.PROCESSING, message=str(time.monotonic_ns())
            )
            await asyncio.sleep(max(next_at - time.monotonic(), 0))  # sleep(0) still yields to senders
        return task_args.count
