"""`TaskContext`: the handle a running task uses to report progress and logs."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.events import check_custom_event_name
from tasks.processes import ProcessGroups
from tasks.status import LogLevel, TaskStatus

if TYPE_CHECKING:
    from tasks.live import LiveTask
    from tasks.runner import Runner


class TaskContext:
    """Passed as the first argument of every task; typed so editors complete it."""

    def __init__(self, runner: Runner, live: LiveTask) -> None:
        self._runner = runner
        self._live = live

    @property
    def task_id(self) -> str:
        return self._live.record.id

    @property
    def client(self) -> str | None:
        """The client that owns the task, None for a direct (tokenless) start."""
        return self._live.record.client

    @property
    def args(self) -> Any:
        return self._live.args

    @property
    def state(self) -> str:
        return self._live.record.state

    @property
    def name(self) -> str:
        return self._live.record.task

    @property
    def attempt(self) -> int:
        """Which run this is: 1, then 2, 3... when `retries=` re-runs a task that raised."""
        return self._live.record.attempt

    async def update(
        self,
        progress: float | None = None,
        status: TaskStatus | str | None = None,
        message: str | None = None,
    ) -> None:
        """Report progress (0-100), a non-terminal status and/or a message; pushed at once."""
        if progress is not None and not 0 <= float(progress) <= 100:
            raise ValueError(f"progress must be between 0 and 100, got {progress!r}")
        new_status = TaskStatus(status) if status is not None else None
        if new_status is not None and new_status.is_terminal:
            raise ValueError(f"status {new_status.value} is terminal: return a value or raise to end a task")
        await self._runner.update(self._live, progress=progress, status=new_status, message=message)

    async def log(self, message: str, level: LogLevel | str = LogLevel.INFO) -> None:
        """A durable, ordered log line, streamed live to every watcher."""
        await self._runner.log(self._live, str(message), LogLevel(level))

    async def emit(self, name: str, data: Any = None) -> int:
        """A custom event (a plan, an overlay, a screenshot's metadata...): durable,
        ordered with the task's other events, replayed on resume; returns its id.
        `name` may not be a built-in type (snapshot, status, log, result, error,
        message, artifact)."""
        return await self._runner.emit(self._live, check_custom_event_name(name), data)

    async def run_process(
        self, *argv: str | Path, cwd: str | Path | None = None, env: Mapping[str, str] | None = None
    ) -> int:
        """Runs a command in its own process group and returns its exit code. Each
        stdout line becomes an `info` log and each stderr line an `error` log, as
        they come. Cancelling, timing out, deleting the task or stopping the server
        stops the whole group (SIGTERM, then SIGKILL). `env` replaces the
        environment, as in `subprocess`."""
        live = self._live
        if live.processes is None:
            live.processes = ProcessGroups(self._runner.settings.process_grace_seconds)
        command = " ".join(str(part) for part in argv)
        await self.log(f"$ {command}", LogLevel.COMMAND)

        async def out(line: str) -> None:
            await self.log(line, LogLevel.INFO)

        async def err(line: str) -> None:
            await self.log(line, LogLevel.ERROR)

        code = await live.processes.run([str(part) for part in argv], cwd, env, out, err)
        await self.log(f"exit code {code}: {command}", LogLevel.SUCCESS if code == 0 else LogLevel.WARNING)
        return code

    async def receive(self, timeout: float | None = None) -> Any:
        """The next intervention message (POST /api/tasks/<id>/messages), or None after `timeout` s."""
        return await self._runner.receive(self._live, timeout)

    async def artifact(
        self, label: str, data: bytes | str | None = None, *, path: str | Path | None = None, mime: str | None = None
    ) -> dict[str, Any]:
        """Stores a file for the task (bytes/str or a file's path); downloadable at its `url`."""
        if (data is None) == (path is None):
            raise ValueError("give either data or path")
        if path is not None:
            content = await asyncio.to_thread(Path(path).read_bytes)
            label = label or Path(path).name
        else:
            content = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)  # type: ignore[arg-type]
        guessed = mimetypes.guess_type(label)[0] or (
            "text/plain" if isinstance(data, str) else "application/octet-stream"
        )
        return await self._runner.artifact(self._live, label, content, mime or guessed)
