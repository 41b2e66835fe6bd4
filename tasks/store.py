"""The durable store: task rows and their events, behind one small interface.

Writes go through a single writer coroutine that commits everything queued since
its last commit in one transaction (group commit): a burst of starts costs one
fsync, and every start is still committed before its caller is answered.
Progress ticks are coalesced: only the latest values of a task are written, at
most every `progress_flush_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import and_, bindparam, delete, event, insert, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tasks.events import TaskEvent
from tasks.status import ACTIVE_STATUSES
from tasks.tables import TaskEventRecord, TaskRecord, WorkerRecord

log = logging.getLogger("spyglass.store")

TASK = TaskRecord.__table__
EVENT = TaskEventRecord.__table__
WORKER = WorkerRecord.__table__
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class _Write:
    """One caller's write; its waiter resolves when the write is committed."""

    waiter: asyncio.Future[None]
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TaskQuery:
    """A page of the task list. Keyset pagination on (created_at, id): stable while
    new tasks are inserted, since a cursor names a position, not an offset."""

    owner: str | None = None
    all_owners: bool = False
    state: str | None = None
    task: str | None = None
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    limit: int = 20
    descending: bool = True
    after: tuple[datetime, str] | None = None


def _resolve(waiter: asyncio.Future[None], error: Exception | None = None) -> None:
    """A caller may have stopped waiting (cancelled); the write stands regardless."""
    if waiter.done():
        return
    if error is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(error)


def _event_row(event_: TaskEvent) -> dict[str, Any]:
    return {
        "task_id": event_.task_id,
        "id": event_.id,
        "type": event_.type.value,
        "timestamp": event_.timestamp,
        "data": event_.stored_data(),
    }


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Store:
    def __init__(self, url: str, *, progress_flush_seconds: float = 0.1, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._flush_seconds = progress_flush_seconds
        self._synchronous = sqlite_synchronous
        self._engine: AsyncEngine | None = None
        self._queue: list[_Write] = []
        self._progress: dict[str, dict[str, Any]] = {}
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not started")
        return self._engine

    async def start(self) -> None:
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_async_engine(self.url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self._engine.sync_engine, "connect", self._sqlite_pragmas)
        await self.migrate()
        self._closing = False
        self._writer = asyncio.create_task(self._write_loop(), name="spyglass-store-writer")

    def _sqlite_pragmas(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={self._synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision, one worker at a time."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(4242424242)"))
            await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))

    async def stop(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    # -- writes -------------------------------------------------------------

    def _enqueue(
        self,
        inserts: list[dict[str, Any]] | None = None,
        updates: list[tuple[str, dict[str, Any]]] | None = None,
        events: list[dict[str, Any]] | None = None,
        deletes: list[str] | None = None,
    ) -> asyncio.Future[None]:
        if self._writer is None or self._closing:
            raise RuntimeError("store is not accepting writes")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Write(waiter, inserts or [], updates or [], events or [], deletes or []))
        self._wakeup.set()
        return waiter

    def insert_task(self, values: dict[str, Any]) -> asyncio.Future[None]:
        """Resolves once the row is committed."""
        return self._enqueue(inserts=[values])

    def set_progress(self, task_id: str, values: dict[str, Any]) -> None:
        """Coalesced: the latest values win; written within `progress_flush_seconds`."""
        if not self._progress:
            self._wakeup.set()
        self._progress.setdefault(task_id, {}).update(values)

    def update_task(self, task_id: str, values: dict[str, Any], events: Sequence[TaskEvent] = ()) -> asyncio.Future[None]:
        """Resolves once committed; a pending coalesced tick of the task is folded in."""
        pending = self._progress.pop(task_id, None)
        return self._enqueue(updates=[(task_id, {**(pending or {}), **values})], events=[_event_row(e) for e in events])

    def delete_tasks(self, task_ids: Sequence[str]) -> asyncio.Future[None]:
        """Removes rows and their events, after every write queued before it."""
        for task_id in task_ids:
            self._progress.pop(task_id, None)
        return self._enqueue(deletes=list(task_ids))

    def append_events(self, events: Sequence[TaskEvent]) -> asyncio.Future[None]:
        """Resolves once committed; the writer is FIFO, so later writes land after these."""
        return self._enqueue(events=[_event_row(e) for e in events])

    async def _write_loop(self) -> None:
        while True:
            if not self._queue and not self._closing:
                if not self._progress:
                    await self._wakeup.wait()  # a durable write, closing, or a first tick
                    self._wakeup.clear()
                if not self._queue and not self._closing and self._progress:
                    try:  # the coalescing window; a durable write cuts it short
                        await asyncio.wait_for(self._wakeup.wait(), self._flush_seconds)
                    except TimeoutError:
                        pass
            await asyncio.sleep(0)  # let writers that are ready this loop turn join the batch
            self._wakeup.clear()
            writes, self._queue = self._queue, []
            progress, self._progress = self._progress, {}
            if progress:
                tick: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                tick.add_done_callback(lambda f: f.exception())  # logged in _commit; nobody awaits ticks
                writes.insert(0, _Write(tick, updates=list(progress.items())))
            if writes:
                await self._commit(writes)
            if self._closing and not self._queue and not self._progress:
                return

    async def _commit(self, writes: list[_Write]) -> None:
        try:
            async with self.engine.begin() as conn:
                await self._apply(
                    conn,
                    [row for w in writes for row in w.inserts],
                    [item for w in writes for item in w.updates],
                    [row for w in writes for row in w.events],
                    [task_id for w in writes for task_id in w.deletes],
                )
        except Exception as exc:  # one bad write must not fail its neighbours: retry one by one
            log.warning("group commit of %d writes failed (%s); retrying one by one", len(writes), exc)
            for write in writes:
                try:
                    async with self.engine.begin() as conn:
                        await self._apply(conn, write.inserts, write.updates, write.events, write.deletes)
                except Exception as one_exc:
                    log.error("store write failed: %s", one_exc)
                    _resolve(write.waiter, one_exc)
                else:
                    _resolve(write.waiter)
            return
        for write in writes:
            _resolve(write.waiter)

    @staticmethod
    async def _apply(
        conn: AsyncConnection,
        inserts: list[dict[str, Any]],
        updates: list[tuple[str, dict[str, Any]]],
        events: list[dict[str, Any]],
        deletes: list[str],
    ) -> None:
        if inserts:
            await conn.execute(insert(TASK), inserts)
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for task_id, values in updates:
            by_shape.setdefault(tuple(values), []).append({"_task_id": task_id, **values})
        for shape, rows in by_shape.items():
            statement = update(TASK).where(TASK.c.id == bindparam("_task_id")).values({c: bindparam(c, type_=TASK.c[c].type) for c in shape})
            await conn.execute(statement, rows)
        if events:
            await conn.execute(insert(EVENT), events)
        if deletes:
            await conn.execute(delete(EVENT).where(EVENT.c.task_id.in_(deletes)))
            await conn.execute(delete(TASK).where(TASK.c.id.in_(deletes)))

    # -- reads --------------------------------------------------------------

    async def get_task(self, task_id: str) -> TaskRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(TASK).where(TASK.c.id == task_id))).mappings().first()
        return TaskRecord(**row) if row is not None else None

    async def list_tasks(self, query: TaskQuery) -> list[TaskRecord]:
        stmt = select(TASK)
        if not query.all_owners:
            stmt = stmt.where(TASK.c.owner == query.owner if query.owner is not None else TASK.c.owner.is_(None))
        if query.state is not None:
            stmt = stmt.where(TASK.c.state == query.state)
        if query.task is not None:
            stmt = stmt.where(TASK.c.task == query.task)
        if query.statuses:
            stmt = stmt.where(TASK.c.status.in_(query.statuses))
        if query.since is not None:
            stmt = stmt.where(TASK.c.created_at >= query.since)
        if query.after is not None:
            created, task_id = query.after
            if query.descending:
                stmt = stmt.where(or_(TASK.c.created_at < created, and_(TASK.c.created_at == created, TASK.c.id < task_id)))
            else:
                stmt = stmt.where(or_(TASK.c.created_at > created, and_(TASK.c.created_at == created, TASK.c.id > task_id)))
        order = (TASK.c.created_at.desc(), TASK.c.id.desc()) if query.descending else (TASK.c.created_at, TASK.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(*order).limit(query.limit))).mappings()
            return [TaskRecord(**r) for r in rows]

    async def find_idempotent(self, key: str) -> TaskRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(TASK).where(TASK.c.idempotency_key == key))).mappings().first()
        return TaskRecord(**row) if row is not None else None

    async def purgeable(self, now: datetime, limit: int = 500) -> list[str]:
        """Finished tasks past their retention (running tasks have no purge_after)."""
        query = select(TASK.c.id).where(TASK.c.purge_after.is_not(None), TASK.c.purge_after < now).limit(limit)
        async with self.engine.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def client_events_after(self, owner: str, after: int, state: str | None = None) -> list[TaskEvent]:
        """Durable events of a client's tasks after an id (client-stream resume)."""
        query = (
            select(EVENT)
            .join(TASK, TASK.c.id == EVENT.c.task_id)
            .where(TASK.c.owner == owner, EVENT.c.id > after)
            .order_by(EVENT.c.id)
            .limit(10_000)
        )
        if state is not None:
            query = query.where(TASK.c.state == state)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings()
            return [TaskEvent.from_stored(r["task_id"], r["id"], r["type"], r["timestamp"], r["data"]) for r in rows]

    async def events_after(self, task_id: str, after: int) -> list[TaskEvent]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(EVENT).where(EVENT.c.task_id == task_id, EVENT.c.id > after).order_by(EVENT.c.id)
                )
            ).mappings()
            return [TaskEvent.from_stored(r["task_id"], r["id"], r["type"], r["timestamp"], r["data"]) for r in rows]

    # -- workers ------------------------------------------------------------

    async def heartbeat(self, worker_id: str, hostname: str, pid: int, now: datetime) -> None:
        async with self.engine.begin() as conn:
            updated = await conn.execute(update(WORKER).where(WORKER.c.id == worker_id).values(heartbeat_at=now))
            if updated.rowcount == 0:
                await conn.execute(
                    insert(WORKER).values(id=worker_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now)
                )

    async def workers(self) -> list[WorkerRecord]:
        async with self.engine.connect() as conn:
            return [WorkerRecord(**r) for r in (await conn.execute(select(WORKER))).mappings()]

    async def remove_workers(self, worker_ids: Sequence[str]) -> None:
        if worker_ids:
            async with self.engine.begin() as conn:
                await conn.execute(delete(WORKER).where(WORKER.c.id.in_(worker_ids)))

    async def orphaned_tasks(self, live_worker_ids: Sequence[str]) -> list[TaskRecord]:
        """Active tasks whose worker is not among the live ones."""
        active = [s.value for s in ACTIVE_STATUSES]
        query = select(TASK).where(TASK.c.status.in_(active))
        if live_worker_ids:
            query = query.where((TASK.c.worker_id.is_(None)) | (TASK.c.worker_id.not_in(live_worker_ids)))
        async with self.engine.connect() as conn:
            return [TaskRecord(**r) for r in (await conn.execute(query)).mappings()]

    async def finish_orphan(self, task_id: str, values: dict[str, Any], events: Sequence[TaskEvent]) -> bool:
        """Mark an orphan terminal unless it finished meanwhile (compare-and-set on status)."""
        active = [s.value for s in ACTIVE_STATUSES]
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(TASK).where(TASK.c.id == task_id, TASK.c.status.in_(active)).values(**values)
            )
            if result.rowcount == 0:
                return False
            if events:
                await conn.execute(insert(EVENT), [_event_row(e) for e in events])
        return True

