"""SpyGlass engine: decorate an async method, get a monitored background task."""

from tasks.context import TaskContext
from tasks.decorator import TaskOptions, monitored_background_task
from tasks.status import LogLevel, TaskStatus

__all__ = ["LogLevel", "TaskContext", "TaskOptions", "TaskStatus", "monitored_background_task"]
