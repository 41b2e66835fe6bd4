"""A task this worker runs, as the runner holds it between start and end."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tasks.outbox import Outbox
from tasks.processes import ProcessGroups
from tasks.registry import TaskSpec
from tasks.rows import LiveRecord
from tasks.status import TaskStatus


class TaskEnded(asyncio.CancelledError):
    """Raised into a task that keeps calling its context after it was force-ended."""


@dataclass
class LiveTask:
    """The in-memory truth of a running task until its terminal row is committed."""

    record: LiveRecord
    spec: TaskSpec
    args: BaseModel | None
    outbox: Outbox
    args_json: str = ""
    handle: asyncio.Task[None] | None = None
    _inbox: asyncio.Queue[Any] | None = field(default=None, init=False)
    artifacts: set[str] = field(default_factory=set)
    processes: ProcessGroups | None = None
    ended: bool = False  # its end is recorded (or being recorded): ignore what it still says
    force_timer: asyncio.TimerHandle | None = None
    # Proves a Reflex event that runs an instance task was sent by the engine.
    launch_nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def inbox(self) -> asyncio.Queue[Any]:
        """Messages sent to the task; made on first use (most tasks never get one)."""
        if self._inbox is None:
            self._inbox = asyncio.Queue()
        return self._inbox


@dataclass(frozen=True)
class Outcome:
    """How one run of a task ended, before it is recorded."""

    status: TaskStatus
    result: Any = None
    error: str | None = None
    code: str | None = None
    hint: str | None = None
