"""Concurrency limits: a task's `max_concurrency` and the global active-task cap.

`LocalLimits` counts this process's tasks (the embedded default: one worker).
`RedisLimits` counts every worker of every host: each running task holds a lease
in two Redis sorted sets (its task's and the global one), taken atomically by a
Lua script and renewed by its worker's heartbeat. A worker that dies stops
renewing, so its slots free themselves when the lease runs out, about when the
survivors mark its tasks Interrupted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from redis.asyncio import Redis

from tasks.errors import ServiceUnavailable, TooManyTasks
from tasks.registry import TaskSpec

log = logging.getLogger("spyglass.limits")

RELEASE_WAIT_SECONDS = 0.25  # a healthy Redis answers in well under a millisecond


def _task_limit_error(spec: TaskSpec, limit: int) -> TooManyTasks:
    return TooManyTasks(
        f"task {spec.name!r} already has {limit} running (its max_concurrency)",
        hint="retry after a running one finishes",
    )


def _global_limit_error(limit: int) -> TooManyTasks:
    return TooManyTasks(f"the server already runs {limit} tasks", hint="retry later or raise SPYGLASS_MAX_ACTIVE_TASKS")


class Limits(Protocol):
    async def acquire(self, spec: TaskSpec, task_id: str) -> None:
        """Takes a slot for a new task, or raises TooManyTasks."""

    async def release(self, spec: TaskSpec, task_id: str) -> None: ...

    async def renew(self, held: Iterable[tuple[TaskSpec, str]]) -> None:
        """Called at every heartbeat with the tasks this worker runs."""

    def running(self, spec: TaskSpec | None = None) -> int:
        """Tasks this worker counts (all of them, or one task's)."""


class LocalLimits:
    def __init__(self, max_active: int) -> None:
        self.max_active = max_active
        self._per_task: Counter[tuple[str, str]] = Counter()
        self._total = 0

    async def acquire(self, spec: TaskSpec, task_id: str) -> None:
        limit = spec.options.max_concurrency
        if limit is not None and self._per_task[spec.state, spec.name] >= limit:
            raise _task_limit_error(spec, limit)
        if self._total >= self.max_active:
            raise _global_limit_error(self.max_active)
        self._per_task[spec.state, spec.name] += 1
        self._total += 1

    async def release(self, spec: TaskSpec, task_id: str) -> None:
        self._per_task[spec.state, spec.name] -= 1
        self._total -= 1

    async def renew(self, held: Iterable[tuple[TaskSpec, str]]) -> None:
        return None

    def running(self, spec: TaskSpec | None = None) -> int:
        return self._per_task[spec.state, spec.name] if spec is not None else self._total


# KEYS: the task's set ("" when it has no limit), the global set.
# ARGV: task id, lease seconds, task limit (0: none), global limit.
# Server time, not the workers' clocks: hosts may disagree by seconds.
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local lease = t + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', t)
if tonumber(ARGV[3]) > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
if tonumber(ARGV[3]) > 0 then redis.call('ZADD', KEYS[1], lease, ARGV[1]) end
redis.call('ZADD', KEYS[2], lease, ARGV[1])
return 0
"""

# KEYS: the sets; ARGV: lease seconds, then the task ids held in them.
_RENEW = """
local now = redis.call('TIME')
local lease = tonumber(now[1]) + tonumber(now[2]) / 1000000 + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', lease, ARGV[i + 1])
end
return 0
"""


class RedisLimits:
    def __init__(self, redis: Redis, prefix: str, max_active: int, lease_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_active = max_active
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._local = LocalLimits(max_active=2**62)
        self._removals: set[asyncio.Future[None]] = set()

    def _task_key(self, spec: TaskSpec) -> str:
        return f"{self.prefix}:running:{spec.state}.{spec.name}"

    @property
    def _global_key(self) -> str:
        return f"{self.prefix}:running:*"

    async def acquire(self, spec: TaskSpec, task_id: str) -> None:
        limit = spec.options.max_concurrency or 0
        keys = [self._task_key(spec) if limit else "", self._global_key]
        try:
            outcome = await self._acquire(keys=keys, args=[task_id, self.lease_seconds, limit, self.max_active])
        except Exception as exc:  # redis-py raises more than RedisError when it cannot connect
            raise ServiceUnavailable(
                "Redis is unreachable: the concurrency limits cannot be checked", hint="retry shortly; see GET /ready"
            ) from exc
        if outcome == 1:
            raise _task_limit_error(spec, limit)
        if outcome == 2:
            raise _global_limit_error(self.max_active)
        await self._local.acquire(spec, task_id)

    async def release(self, spec: TaskSpec, task_id: str) -> None:
        """Returns once Redis has freed the slot, or after RELEASE_WAIT_SECONDS: the
        runner publishes a task's end after this (whoever hears it may start the
        next at once), and a stalled Redis must not hold the end back. A removal
        still under way carries on; if it never lands, the lease runs out."""
        await self._local.release(spec, task_id)
        removal = asyncio.ensure_future(self._remove(spec, task_id))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)
        await asyncio.wait((removal,), timeout=RELEASE_WAIT_SECONDS)

    async def _remove(self, spec: TaskSpec, task_id: str) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(self._global_key, task_id)
                if spec.options.max_concurrency:
                    pipe.zrem(self._task_key(spec), task_id)
                await pipe.execute()
        except Exception as exc:  # the lease runs out by itself
            log.warning("could not release the slot of task %s (%s); its lease expires", task_id, exc)

    async def renew(self, held: Iterable[tuple[TaskSpec, str]]) -> None:
        keys: list[str] = []
        ids: list[str] = []
        for spec, task_id in held:
            keys.append(self._global_key)
            ids.append(task_id)
            if spec.options.max_concurrency:
                keys.append(self._task_key(spec))
                ids.append(task_id)
        if keys:
            try:
                await self._renew(keys=keys, args=[self.lease_seconds, *ids])
            except Exception as exc:
                log.warning("could not renew the slots of running tasks (%s)", exc)

    def running(self, spec: TaskSpec | None = None) -> int:
        return self._local.running(spec)
