"""Tasks for the tests: fast, and each showing one behaviour. Loaded only by the
tests (SPYGLASS_STATE_MODULES=tests.support.fast_tasks); route name `fast_tasks`."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, TaskStatus, monitored_background_task


class StepArgs(BaseModel):
    steps: int = Field(default=5, ge=1, le=1000)
    interval: float = Field(default=0.05, ge=0, le=5)


class LogArgs(BaseModel):
    lines: int = Field(default=3, ge=0, le=1000)
    interval: float = Field(default=0, ge=0, le=5)


class FastTasksState(MonitorState):
    @staticmethod
    @monitored_background_task
    async def noop(task: TaskContext) -> str:
        """Returns at once."""
        return "ok"

    @staticmethod
    @monitored_background_task
    async def steps(task: TaskContext, task_args: StepArgs = StepArgs()) -> dict[str, int]:
        """`steps` progress updates, `interval` seconds apart."""
        for i in range(task_args.steps):
            await task.update(progress=(i + 1) * 100 / task_args.steps, status=TaskStatus.PROCESSING, message=f"step {i + 1}")
            await asyncio.sleep(task_args.interval)
        return {"steps": task_args.steps}

    @staticmethod
    @monitored_background_task
    async def chatty(task: TaskContext, task_args: LogArgs = LogArgs()) -> int:
        """Writes `lines` log lines of rotating levels."""
        levels = ["info", "warning", "error", "success", "command"]
        for i in range(task_args.lines):
            await task.log(f"line {i}", levels[i % len(levels)])
            await asyncio.sleep(task_args.interval)
        return task_args.lines

    @staticmethod
    @monitored_background_task
    async def fail(task: TaskContext) -> None:
        """Raises after one progress step."""
        await task.update(progress=50, status=TaskStatus.PROCESSING)
        raise ValueError("boom: the input was bad")

    @staticmethod
    @monitored_background_task
    async def unserializable(task: TaskContext) -> object:
        """Returns something JSON cannot hold."""
        return object()

    @staticmethod
    @monitored_background_task
    async def forever(task: TaskContext) -> None:
        """Runs until stopped, ticking every 100 ms."""
        tick = 0
        while True:
            tick += 1
            await task.update(progress=min(tick, 99), status=TaskStatus.PROCESSING)
            await asyncio.sleep(0.1)

    @staticmethod
    @monitored_background_task(timeout=1.0)
    async def overrun(task: TaskContext) -> None:
        """Sleeps past its one-second timeout."""
        await asyncio.sleep(30)

    @staticmethod
    @monitored_background_task(max_concurrency=1)
    async def single(task: TaskContext) -> str:
        """Only one may run at a time."""
        await asyncio.sleep(0.5)
        return "done"

    @staticmethod
    @monitored_background_task
    async def interactive(task: TaskContext) -> list[object]:
        """Collects intervention messages until it receives {"action": "stop"}."""
        received: list[object] = []
        await task.update(progress=1, status=TaskStatus.PROCESSING)
        while True:
            message = await task.receive(timeout=10)
            if message is None or message == {"action": "stop"}:
                return received
            received.append(message)
            await task.log(f"got {message}")

    @staticmethod
    @monitored_background_task
    async def files(task: TaskContext) -> list[str]:
        """Stores artifacts, one with a hostile name, and tries one over the size limit."""
        report = await task.artifact("report.txt", "hello from the task")
        sneaky = await task.artifact("../../etc/passwd", b"not really")
        try:
            await task.artifact("huge.bin", b"x" * (11 * 1024 * 1024))
        except ValueError as exc:
            await task.log(str(exc), "warning")
        return [report["name"], sneaky["name"]]

    @staticmethod
    @monitored_background_task(retention=0.5)
    async def short_lived(task: TaskContext) -> str:
        """Finished records are purged half a second after the end."""
        return "gone soon"
