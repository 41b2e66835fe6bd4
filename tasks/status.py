"""The task status enum: strings on the wire, a closed set in code."""

from __future__ import annotations

from enum import Enum


class TaskStatus(str, Enum):
    PENDING = "Pending"
    STARTING = "Starting"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    ERROR = "Error"
    CANCELLED = "Cancelled"
    INTERRUPTED = "Interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED}
)
TERMINAL_VALUES: frozenset[str] = frozenset(status.value for status in TERMINAL_STATUSES)
ACTIVE_STATUSES: frozenset[TaskStatus] = frozenset(TaskStatus) - TERMINAL_STATUSES


class LogLevel(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    SUCCESS = "success"
    COMMAND = "command"

    def __str__(self) -> str:
        return self.value
