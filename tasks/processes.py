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
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

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


def _spawn(argv: list[str], cwd: str | Path | None, env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    """Spawned by the standard library, not by the event loop: uvloop (0.23) leaves
    extra inheritable copies of the output pipes in the child, so a grandchild that
    detaches (a daemon started by the command) kept them open, and the command's
    output, and `run_process`, did not end until that grandchild did."""
    return subprocess.Popen(  # noqa: S603 (the task's own command, run without a shell)
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        start_new_session=True,  # its own session and process group: pgid == pid
    )


async def _reader(pipe: IO[bytes], transports: list[asyncio.BaseTransport]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe
    )
    transports.append(transport)
    return reader


async def _exit_code(proc: subprocess.Popen[bytes]) -> int:
    """Waits for the process to exit without a thread: its pidfd becomes readable."""
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(proc.pid)
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return proc.wait()


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
        proc = _spawn([str(part) for part in argv], cwd, env)
        self._groups.add(proc.pid)
        transports: list[asyncio.BaseTransport] = []
        try:
            assert proc.stdout is not None and proc.stderr is not None
            stdout = await _reader(proc.stdout, transports)
            stderr = await _reader(proc.stderr, transports)
            await asyncio.gather(_pump(stdout, on_stdout), _pump(stderr, on_stderr))
            return await _exit_code(proc)
        finally:
            for transport in transports:
                transport.close()
            await self.stop(proc.pid)
            self._groups.discard(proc.pid)
            proc.poll()  # reaps it if it has exited; otherwise the standard library does later

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
