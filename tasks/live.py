"""A task this worker runs, as the runner holds it between start and end."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tasks.events import TaskSnapshot
from tasks.outbox import Outbox
from tasks.processes import ProcessGroups
from tasks.registry import TaskSpec
from tasks.rows import PlainRecord, row_state
from tasks.status import TaskStatus


class TaskEnded(asyncio.CancelledError):
    """Raised into a task that keeps calling its context after it was force-ended."""


@dataclass
class LiveTask:
    """The in-memory truth of a running task until its terminal row is committed."""

    record: PlainRecord
    spec: TaskSpec
    args: BaseModel | None
    outbox: Outbox
    topics: tuple[str, ...]  # where its events are published
    args_json: str = ""
    handle: asyncio.Task[None] | None = None
    _inbox: asyncio.Queue[Any] | None = field(default=None, init=False)
    artifacts: set[str] = field(default_factory=set)
    processes: ProcessGroups | None = None
    ended: bool = False  # its end is recorded (or being recorded): ignore what it still says
    force_timer: asyncio.TimerHandle | None = None
    # Resolves with the terminal snapshot once the end is committed (None if this
    # worker did not record it): what an embedded long-poll awaits. Made on first use.
    ending: asyncio.Future[TaskSnapshot | None] | None = None
    # Proves a Reflex event that runs an instance task was sent by the engine.
    launch_nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    def row_state(self) -> dict[str, Any]:
        """The row as it stands now: what a coalesced progress write reads at flush time."""
        return row_state(self.record, self.args_json)

    def ended_with(self, snapshot: TaskSnapshot | None) -> None:
        if self.ending is not None and not self.ending.done():
            self.ending.set_result(snapshot)

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
