"""Idempotent starts: a repeat with the same `Idempotency-Key` by the same caller
returns the first task instead of starting another, on any worker."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from tasks.errors import Conflict
from tasks.events import TaskSnapshot
from tasks.registry import TaskSpec
from tasks.rows import PlainRecord
from tasks.store import Store


def args_fingerprint(spec: TaskSpec, args: BaseModel | None) -> str:
    """What an idempotent repeat must match: the same task with the same arguments."""
    payload = json.dumps([spec.state, spec.name, args.model_dump(mode="json") if args else None], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def scoped_key(client: str | None, key: str) -> str:
    """Keys are per caller: two clients may use the same key for different tasks."""
    return f"{client or '-'}:{key}"


class IdempotentStarts:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = asyncio.Lock()  # one worker: no race; several: the unique index decides

    async def start_once(
        self,
        spec: TaskSpec,
        args: BaseModel | None,
        key: str,
        launch: Callable[[], Awaitable[TaskSnapshot]],
        snapshot: Callable[[str], Awaitable[TaskSnapshot]],
    ) -> tuple[TaskSnapshot, bool]:
        """(snapshot, created): `launch` runs only if no task holds `key` yet; a
        repeat with other arguments is a Conflict."""
        async with self._lock:
            existing = await self.store.find_idempotent(key)
            if existing is None:
                try:
                    return await launch(), True
                except IntegrityError:
                    existing = await self.store.find_idempotent(key)
                    if existing is None:
                        raise
            _check_same_request(existing, spec, args)
        return await snapshot(existing.id), False


def _check_same_request(existing: PlainRecord, spec: TaskSpec, args: BaseModel | None) -> None:
    if existing.args_hash != args_fingerprint(spec, args):
        raise Conflict(
            "this Idempotency-Key was already used for another task or other arguments",
            hint="use a new key for a different request",
        )
