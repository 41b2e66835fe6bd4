"""Subprocesses owned by a task (`task.run_process`).

Each command runs in a process group of its own, so stopping it reaches its
children and grandchildren too: when the task is cancelled, times out, is
deleted or the server shuts down (and whenever the command returns with
something of its group still running), the group gets SIGTERM, then SIGKILL
after SPYGLASS_PROCESS_GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

MAX_LINE_CHARS = 8192
READ_CHUNK = 65536

LineSink = Callable[[str], Awaitable[None]]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _pump(stream: asyncio.StreamReader, sink: LineSink) -> None:
    """Each line to `sink` as it arrives (overlong lines are cut, bad UTF-8 replaced)."""
    pending = b""
    while chunk := await stream.read(READ_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            await sink(line.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS])
        if len(pending) > MAX_LINE_CHARS * 4:
            await sink(pending.decode("utf-8", "replace")[:MAX_LINE_CHARS])
            pending = b""
    if pending:
        await sink(pending.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS])


class ProcessGroups:
    """The process groups a task started; each is stopped when its command ends,
    fails or is cancelled, and all of them when the task is forced to end."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace = grace_seconds
        self._groups: set[int] = set()

    async def run(
        self,
        argv: Sequence[str],
        cwd: str | Path | None,
        env: Mapping[str, str] | None,
        on_stdout: LineSink,
        on_stderr: LineSink,
    ) -> int:
        if not argv:
            raise ValueError("run_process needs a command")
        proc = await asyncio.create_subprocess_exec(
            *[str(part) for part in argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own session and process group: pgid == pid
        )
        self._groups.add(proc.pid)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            await asyncio.gather(_pump(proc.stdout, on_stdout), _pump(proc.stderr, on_stderr))
            return await proc.wait()
        finally:
            await self.stop(proc.pid)
            self._groups.discard(proc.pid)

    async def stop(self, pgid: int) -> None:
        """SIGTERM, then SIGKILL after the grace period if anything of the group is left."""
        if not _group_alive(pgid):
            return
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while _group_alive(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110 (the OS offers no event)
            await asyncio.sleep(0.05)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(pgid) for pgid in list(self._groups)))

    def kill_all(self) -> None:
        """No grace: the task was forced to end and its coroutine is abandoned."""
        for pgid in list(self._groups):
            _signal_group(pgid, signal.SIGKILL)
