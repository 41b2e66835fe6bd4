"""A task that runs a command: each output line becomes a log line as it comes,
and the whole process group (children and grandchildren) is stopped with the
task (cancel, timeout, delete, server shutdown). The command is fixed: arguments
only choose numbers, never what runs."""

from __future__ import annotations

from pydantic import BaseModel, Field

from states.monitor import MonitorState
from tasks import TaskContext, monitored_background_task

SCRIPT = 'for i in $(seq 1 "$1"); do echo "line $i"; sleep "$2"; done; echo "done" >&2'


class CountArgs(BaseModel):
    lines: int = Field(default=5, ge=1, le=1000, description="how many lines the command prints")
    interval: float = Field(default=0.5, ge=0, le=60, description="seconds between lines")


DEFAULT_COUNT = CountArgs()


class ExampleShellState(MonitorState):
    @staticmethod
    @monitored_background_task(timeout=3600)
    async def count_lines(task: TaskContext, task_args: CountArgs = DEFAULT_COUNT) -> int:
        """Runs a shell loop that prints numbered lines; returns its exit code."""
        return await task.run_process("sh", "-c", SCRIPT, "count", str(task_args.lines), str(task_args.interval))
