"""`task.run_process` on both event loops the product runs on: asyncio's (the tests'
engine) and uvloop (the served workers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from tasks.processes import ProcessGroups

LOOPS: dict[str, Callable[[Coroutine[Any, Any, Any]], Any]] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its new parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def _run(*argv: str) -> tuple[int, list[str], list[str], float]:
    out: list[str] = []
    err: list[str] = []

    async def to_out(line: str) -> None:
        out.append(line)

    async def to_err(line: str) -> None:
        err.append(line)

    began = time.monotonic()
    code = await ProcessGroups(grace_seconds=0.5).run(argv, None, None, to_out, to_err)
    return code, out, err, time.monotonic() - began


@pytest.mark.parametrize("loop", LOOPS)
def test_a_command_returns_its_exit_code_and_its_lines(loop: str) -> None:
    code, out, err, _ = LOOPS[loop](_run("sh", "-c", "echo one; echo two >&2; printf 'no newline'; exit 3"))
    assert (code, out, err) == (3, ["one", "no newline"], ["two"])


@pytest.mark.parametrize("loop", LOOPS)
def test_a_command_that_leaves_a_detached_child_returns_at_once_and_the_child_is_stopped(loop: str) -> None:
    code, out, _, took = LOOPS[loop](_run("sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"))
    assert code == 0
    assert took < 5  # the grace period, not the child's 30 s
    child = int(out[0])
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_missing_command_raises_file_not_found(loop: str) -> None:
    with pytest.raises(FileNotFoundError):
        LOOPS[loop](_run("/nonexistent/spyglass-command"))
