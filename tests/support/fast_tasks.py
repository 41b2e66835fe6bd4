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


class FlakyArgs(BaseModel):
    failures: int = Field(default=1, ge=0, le=10)


SPAWN = "sleep 60 & echo child $!; sleep 60 & echo child $!; echo shell $$; wait"
DEFAULT_STEPS = StepArgs()
DEFAULT_FLAKY = FlakyArgs()
DEFAULT_LOGS = LogArgs()


class FastTasksState(MonitorState):
    @staticmethod
    @monitored_background_task
    async def noop(task: TaskContext) -> str:
        """Returns at once."""
        return "ok"

    @staticmethod
    @monitored_background_task
    async def steps(task: TaskContext, task_args: StepArgs = DEFAULT_STEPS) -> dict[str, int]:
        """`steps` progress updates, `interval` seconds apart."""
        for i in range(task_args.steps):
            await task.update(
                progress=(i + 1) * 100 / task_args.steps, status=TaskStatus.PROCESSING, message=f"step {i + 1}"
            )
            await asyncio.sleep(task_args.interval)
        return {"steps": task_args.steps}

    @staticmethod
    @monitored_background_task
    async def chatty(task: TaskContext, task_args: LogArgs = DEFAULT_LOGS) -> int:
        """Writes `lines` log lines of rotating levels."""
        levels = ["info", "warning", "error", "success", "command"]
        for i in range(task_args.lines):
            await task.log(f"line {i}", levels[i % len(levels)])
            await asyncio.sleep(task_args.interval)
        return task_args.lines

    @staticmethod
    @monitored_background_task
    async def nul_bytes(task: TaskContext) -> None:
        """Quotes a NUL byte in its message, a log line, an artifact's label and its error."""
        await task.update(progress=50, status=TaskStatus.PROCESSING, message="read a\x00b")
        await task.log("line with \x00 in it")
        await task.artifact("notes\x00.txt", "kept")
        try:
            await task.artifact("typed.txt", "refused", mime="text/plain\x00")
        except ValueError as exc:
            await task.log(str(exc))
        raise ValueError("bad byte \x00 in the input")

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
    @monitored_background_task
    async def almost(task: TaskContext) -> str:
        """Its last update says 99%; it completes all the same."""
        await task.update(progress=99, status=TaskStatus.PROCESSING)
        return "done"

    @staticmethod
    @monitored_background_task
    async def quiet(task: TaskContext, task_args: StepArgs = DEFAULT_STEPS) -> str:
        """Runs `steps` x `interval` seconds without sending a single event."""
        await asyncio.sleep(task_args.steps * task_args.interval)
        return "done"

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
    @monitored_background_task(max_concurrency=2)
    async def pair(task: TaskContext) -> str:
        """At most two at a time, on every worker and host together."""
        await asyncio.sleep(3)
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

    @staticmethod
    @monitored_background_task
    async def emitter(task: TaskContext) -> str:
        """A plan, then three steps, as custom events."""
        await task.emit("plan", {"steps": ["open", "search", "read"]})
        for i, step in enumerate(["open", "search", "read"]):
            await task.emit("step", {"index": i, "title": step, "overlay": {"bbox": [i, i, 10, 10]}})
            await asyncio.sleep(0.05)
        return "planned"

    @staticmethod
    @monitored_background_task
    async def bad_event(task: TaskContext) -> None:
        """Tries to pass a custom event off as a built-in one."""
        await task.emit("result", {"fake": True})

    @staticmethod
    @monitored_background_task
    async def spawner(task: TaskContext) -> int:
        """A shell with two background `sleep 60` grandchildren; prints every pid."""
        return await task.run_process("sh", "-c", SPAWN)

    @staticmethod
    @monitored_background_task(timeout=1.5)
    async def spawner_timeout(task: TaskContext) -> int:
        """As `spawner`, with a 1.5 s timeout."""
        return await task.run_process("sh", "-c", SPAWN)

    @staticmethod
    @monitored_background_task
    async def stubborn(task: TaskContext) -> str:
        """Ignores cancellation (a badly written task): keeps going."""
        await task.update(progress=1, status=TaskStatus.PROCESSING)
        for _ in range(600):
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                continue
        return "never"

    @staticmethod
    @monitored_background_task(retries=2, retry_backoff=0.1)
    async def flaky(task: TaskContext, task_args: FlakyArgs = DEFAULT_FLAKY) -> int:
        """Raises on its first `failures` attempts."""
        if task.attempt <= task_args.failures:
            raise ConnectionError(f"attempt {task.attempt} failed")
        return task.attempt

    @staticmethod
    @monitored_background_task(retries=2, retry_backoff=0.1, timeout=0.3)
    async def flaky_timeout(task: TaskContext) -> None:
        """Always runs past its timeout: timeouts are not retried."""
        await asyncio.sleep(5)
