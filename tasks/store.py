"""The durable store: task rows and their events, behind one small interface.

Writes go through a single writer coroutine that commits everything queued since
its last commit in one transaction (group commit): a burst of starts costs one
fsync, and every start is still committed before its caller is answered.
Progress ticks are coalesced: only the latest values of a task are written, at
most every `progress_flush_seconds`.

On SQLite a batch runs whole on the writer thread (tasks/sqlite_writer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import bindparam, case, delete, event, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert, Update

from tasks import queries
from tasks.events import TaskEvent, utcnow
from tasks.queries import Bucket, TaskQuery, TaskStats, as_utc_aware
from tasks.rows import PlainRecord
from tasks.sqlite_writer import SqliteWriter
from tasks.status import ACTIVE_STATUSES
from tasks.tables import ArtifactRecord, SettingRecord, TaskEventRecord, TaskRecord, WorkerRecord, table_of
from tasks.text import names_nothing_stored

log = logging.getLogger("spyglass.store")

TASK = table_of(TaskRecord)
EVENT = table_of(TaskEventRecord)
WORKER = table_of(WorkerRecord)
ARTIFACT = table_of(ArtifactRecord)
SETTING = table_of(SettingRecord)
IDLE_PING_SECONDS = 1.0  # a pooled PostgreSQL connection idle this long is pinged before use
MIGRATION_LOCK_ID = 4242424242  # PostgreSQL advisory lock: one worker migrates, the others wait
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class _Write:
    """One caller's write; its waiter resolves when the write is committed."""

    waiter: asyncio.Future[None]
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


def _resolve(waiter: asyncio.Future[None], error: Exception | None = None) -> None:
    """A caller may have stopped waiting (cancelled); the write stands regardless."""
    if waiter.done():
        return
    if error is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(error)


def event_row(event_: TaskEvent) -> dict[str, Any]:
    """An event as its task_event row."""
    return {
        "task_id": event_.task_id,
        "id": event_.id,
        "type": str(event_.type),
        "timestamp": event_.timestamp,
        "data": event_.stored_data(),
    }


def ping_after_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections that sat idle in the pool: a
    ping before every checkout cost a round trip and about 300 µs of CPU, as much
    as the read it guarded. Every checkout asks the driver whether it saw the
    connection close (no round trip: a restart or a dropped connection closes it);
    one idle for over a second, which may have died unseen, is also pinged. A dead
    one is replaced before use."""

    @event.listens_for(engine.sync_engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.driver_connection.is_closed():  # asyncpg's own flag (installed for asyncpg only)
            raise DisconnectionError("a pooled connection was closed")  # the pool reconnects
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return  # fresh, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection was dead: {exc}") from exc  # the pool reconnects


def is_unreachable(exc: BaseException) -> bool:
    """The database is away (connection refused or lost), as opposed to refusing a write."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError) or isinstance(
        getattr(exc, "orig", None), ConnectionError | OSError
    )


@contextlib.asynccontextmanager
async def _file_lock(path: str) -> AsyncIterator[None]:
    """An exclusive lock between the processes of one host (fcntl), taken off the loop."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115, ASYNC230 (a local lock file: opening it does not block)
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


INSERT_TASK = insert(TASK)
INSERT_EVENT = insert(EVENT)
ExecuteMany = Callable[[Connection, Insert | Update, list[dict[str, Any]]], None]


@functools.cache
def _update_task(shape: tuple[str, ...]) -> Update:
    """The update of a task's columns in `shape`, by id; one per shape, kept."""
    return (
        update(TASK)
        .where(TASK.c.id == bindparam("_task_id"))
        .values({c: bindparam(c, type_=TASK.c[c].type) for c in shape})
    )


def _execute_many(conn: Connection, statement: Insert | Update, rows: list[dict[str, Any]]) -> None:
    conn.execute(statement, rows)


def batch_statements(
    inserts: list[dict[str, Any]], updates: list[tuple[str, dict[str, Any]]], events: list[dict[str, Any]]
) -> list[tuple[Insert | Update, list[dict[str, Any]]]]:
    """A batch's inserts, updates and events as executemany calls, in order: one
    per statement shape."""
    calls: list[tuple[Insert | Update, list[dict[str, Any]]]] = []
    if inserts:
        calls.append((INSERT_TASK, inserts))
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for task_id, values in updates:
        by_shape.setdefault(tuple(values), []).append({"_task_id": task_id, **values})
    calls.extend((_update_task(shape), rows) for shape, rows in by_shape.items())
    if events:
        calls.append((INSERT_EVENT, events))
    return calls


def _apply(
    conn: Connection,
    inserts: list[dict[str, Any]],
    updates: list[tuple[str, dict[str, Any]]],
    events: list[dict[str, Any]],
    deletes: list[str],
    execute_many: ExecuteMany = _execute_many,
) -> None:
    """A batch's statements, in order, on a connection inside its transaction."""
    for statement, rows in batch_statements(inserts, updates, events):
        execute_many(conn, statement, rows)
    if deletes:
        conn.execute(delete(EVENT).where(EVENT.c.task_id.in_(deletes)))
        conn.execute(delete(ARTIFACT).where(ARTIFACT.c.task_id.in_(deletes)))
        conn.execute(delete(TASK).where(TASK.c.id.in_(deletes)))


class Store:
    def __init__(
        self,
        url: str,
        *,
        progress_flush_seconds: float = 0.1,
        sqlite_synchronous: str = "NORMAL",
        outage_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self.outage_seconds = outage_seconds
        self.is_sqlite = url.startswith("sqlite")
        self.dialect = "sqlite" if self.is_sqlite else "postgresql"
        self._flush_seconds = progress_flush_seconds
        self._synchronous = sqlite_synchronous
        self._engine: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._sqlite_writer: SqliteWriter | None = None
        self._queue: list[_Write] = []
        self._progress: dict[str, Callable[[], dict[str, Any]]] = {}
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not started")
        return self._engine

    @property
    def reader(self) -> AsyncEngine:
        """For reads (`reader.connect()`, never `begin()`): on PostgreSQL without a
        transaction, which cost a BEGIN and a ROLLBACK round trip around every read;
        at READ COMMITTED each statement saw its own snapshot all the same."""
        if self._reader is None:
            raise RuntimeError("store is not started")
        return self._reader

    async def start(self) -> None:
        if self.is_sqlite:
            Path(self._sqlite_path()).parent.mkdir(parents=True, exist_ok=True)
        asyncpg = make_url(self.url).get_driver_name() == "asyncpg"
        self._engine = create_async_engine(self.url, pool_pre_ping=not self.is_sqlite and not asyncpg)
        if self.is_sqlite:
            self._reader = self._engine
            event.listen(self._engine.sync_engine, "connect", self._sqlite_pragmas)
            self._sqlite_writer = SqliteWriter(self.url.replace("+aiosqlite", "", 1), self._sqlite_pragmas)
        else:
            self._reader = self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if asyncpg:  # the driver that tells when a connection closed
                ping_after_idle(self._engine)
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
        """Bring the schema to the newest Alembic revision exactly once, however many
        workers start together: PostgreSQL serialises them on an advisory lock, SQLite
        (workers of one host share its file) on a lock file beside the database."""
        if self.is_sqlite:
            async with _file_lock(self._sqlite_path() + ".migrate.lock"):
                await self._upgrade()
            return
        async with self.engine.begin() as conn:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
            await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))

    async def _upgrade(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), "head"))

    def _sqlite_path(self) -> str:
        path = self.url.split("///", 1)[-1]
        return path if path and path != ":memory:" else str(Path.cwd() / "spyglass-memory")

    async def stop(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = self._reader = None
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
            self._sqlite_writer = None

    async def ping(self) -> None:
        async with self.reader.connect() as conn:
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

    def set_progress(self, task_id: str, read: Callable[[], dict[str, Any]]) -> None:
        """Coalesced: within `progress_flush_seconds`, the task's row is written as
        `read()` gives it then, once for however many ticks (a thousand a second
        on a busy task); `read` replaces the task's previous one."""
        if not self._progress:
            self._wakeup.set()
        self._progress[task_id] = read

    def update_task(
        self, task_id: str, values: dict[str, Any], events: Sequence[TaskEvent] = ()
    ) -> asyncio.Future[None]:
        """Resolves once committed. It supersedes the task's pending tick, unread:
        `values` carries every column a tick writes (the runner's row state)."""
        self._progress.pop(task_id, None)
        return self._enqueue(updates=[(task_id, values)], events=[event_row(e) for e in events])

    def delete_tasks(self, task_ids: Sequence[str]) -> asyncio.Future[None]:
        """Removes rows and their events, after every write queued before it."""
        for task_id in task_ids:
            self._progress.pop(task_id, None)
        return self._enqueue(deletes=list(task_ids))

    def append_events(self, events: Sequence[TaskEvent]) -> asyncio.Future[None]:
        """Resolves once committed; the writer is FIFO, so later writes land after these."""
        return self._enqueue(events=[event_row(e) for e in events])

    async def _write_loop(self) -> None:
        while True:
            if not self._queue and not self._closing:
                if not self._progress:
                    await self._wakeup.wait()  # a durable write, closing, or a first tick
                    self._wakeup.clear()
                if not self._queue and not self._closing and self._progress:
                    with contextlib.suppress(TimeoutError):  # the coalescing window; a durable write cuts it short
                        await asyncio.wait_for(self._wakeup.wait(), self._flush_seconds)
            await asyncio.sleep(0)  # let writers that are ready this loop turn join the batch
            self._wakeup.clear()
            writes, self._queue = self._queue, []
            progress, self._progress = self._progress, {}
            if progress:
                tick: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                tick.add_done_callback(lambda f: f.exception())  # logged in _commit; nobody awaits ticks
                writes.insert(0, _Write(tick, updates=[(task_id, read()) for task_id, read in progress.items()]))
            if writes:
                await self._commit(writes)
            if self._closing and not self._queue and not self._progress:
                return

    async def _commit(self, writes: list[_Write]) -> None:
        try:
            await self._commit_retrying_outages(writes)
        except Exception as exc:  # one bad write must not fail its neighbours: retry one by one
            log.warning("group commit of %d writes failed (%s); retrying one by one", len(writes), exc)
            for write in writes:
                try:
                    await self._transaction(write.inserts, write.updates, write.events, write.deletes)
                except Exception as one_exc:
                    log.error("store write failed: %s", one_exc)
                    _resolve(write.waiter, one_exc)
                else:
                    _resolve(write.waiter)
            return
        for write in writes:
            _resolve(write.waiter)

    async def _commit_retrying_outages(self, writes: list[_Write]) -> None:
        """The batch in one transaction, retried through an outage (`_through_outages`)."""
        await self._through_outages(
            lambda: self._transaction(
                [row for w in writes for row in w.inserts],
                [item for w in writes for item in w.updates],
                [row for w in writes for row in w.events],
                [task_id for w in writes for task_id in w.deletes],
            )
        )

    async def _through_outages(self, write: Callable[[], Awaitable[None]]) -> None:
        """While the database is unreachable (not: a write it refuses), keep retrying
        `write`, in order, for up to `outage_seconds`: nothing durable is dropped for
        a restart or a failover of the database."""
        deadline = time.monotonic() + self.outage_seconds
        delay = 0.1
        while True:
            try:
                await write()
                return
            except Exception as exc:
                if not is_unreachable(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning("the database is unreachable (%s); retrying the write in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _transaction(
        self,
        inserts: list[dict[str, Any]],
        updates: list[tuple[str, dict[str, Any]]],
        events: list[dict[str, Any]],
        deletes: list[str],
    ) -> None:
        """One transaction of writes: on SQLite's writer thread, elsewhere on the loop."""
        writer = self._sqlite_writer
        if writer is not None:
            await writer.transaction(lambda conn: _apply(conn, inserts, updates, events, deletes, writer.execute_many))
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(_apply, inserts, updates, events, deletes)

    # -- reads --------------------------------------------------------------

    async def get_task(self, task_id: str) -> PlainRecord | None:
        if names_nothing_stored(task_id):
            return None
        async with self.reader.connect() as conn:
            row = (await conn.execute(select(TASK).where(TASK.c.id == task_id))).mappings().first()
        return PlainRecord(**row) if row is not None else None

    async def list_tasks(self, query: TaskQuery) -> list[PlainRecord]:
        async with self.reader.connect() as conn:
            rows = (await conn.execute(queries.page_statement(TASK, query, self.dialect))).mappings()
            return [PlainRecord(**r) for r in rows]

    async def count_tasks(self, query: TaskQuery) -> int:
        async with self.reader.connect() as conn:
            return int((await conn.execute(queries.count_statement(TASK, query, self.dialect))).scalar_one())

    async def task_stats(self, query: TaskQuery, since: datetime, until: datetime, bucket: Bucket) -> TaskStats:
        """Counts per status, started and finished per bucket (zeros included) and
        run-time percentiles per task, for the tasks `query` selects in [since, until)."""
        dialect = self.dialect
        ranged = replace(query, since=since, until=until)
        statements = [
            queries.started_statement(TASK, ranged, bucket, dialect),
            queries.finished_statement(TASK, ranged, bucket, dialect),
        ]
        # Independent reads, each on a connection of its own: they overlap.
        (started, finished), durations = await asyncio.gather(
            asyncio.gather(*(self._rows(s) for s in statements)), self._durations(ranged)
        )
        counts = queries.status_counts(started)
        return TaskStats(
            total=sum(c.tasks for c in counts),
            by_status=counts,
            bucket=bucket,
            throughput=queries.zero_filled(started, finished, since, until, bucket),
            durations=durations,
        )

    async def _durations(self, query: TaskQuery) -> list[queries.DurationStats]:
        if self.dialect == "sqlite" and query.search:
            return queries.durations_from_values(
                await self._rows(queries.duration_values_statement(TASK, query, "sqlite"))
            )
        groups = await self._rows(queries.duration_statement(TASK, query, self.dialect))
        if self.dialect != "sqlite":
            return queries.durations_from_rows(groups)
        # SQLite has no percentile_cont: each percentile's two rows are read off
        # ix_task_durations, ordered by run time within the task.
        stats = []
        async with self.reader.connect() as conn:
            for state, task, n in sorted(groups):
                values = []
                for q in queries.PERCENTILES:
                    position = q * (n - 1)
                    statement = queries.duration_at_statement(TASK, query, state, task, int(position), self.dialect)
                    ranked = [max(float(row[0]), 0.0) for row in await conn.execute(statement)]
                    ranked = ranked or [0.0]  # deleted since they were counted
                    values.append(queries.percentile(ranked[0], ranked[-1], position))
                stats.append(
                    queries.DurationStats(
                        state=state, task=task, finished=int(n), p50=values[0], p90=values[1], p99=values[2]
                    )
                )
        return stats

    async def _rows(self, statement: Any) -> list[tuple[Any, ...]]:
        async with self.reader.connect() as conn:
            return [tuple(row) for row in await conn.execute(statement)]

    async def find_idempotent(self, key: str) -> PlainRecord | None:
        async with self.reader.connect() as conn:
            row = (await conn.execute(select(TASK).where(TASK.c.idempotency_key == key))).mappings().first()
        return PlainRecord(**row) if row is not None else None

    async def purgeable(self, now: datetime, limit: int = 500) -> list[str]:
        """Finished tasks past their retention (running tasks have no purge_after)."""
        query = (
            select(TASK.c.id)
            .where(TASK.c.purge_after.is_not(None), TASK.c.purge_after < as_utc_aware(now))
            .limit(limit)
        )
        async with self.reader.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def client_events_after(self, client: str, after: int, state: str | None = None) -> list[TaskEvent]:
        """Durable events of a client's tasks after an id (client-stream resume)."""
        query = (
            select(EVENT)
            .join(TASK, TASK.c.id == EVENT.c.task_id)
            .where(TASK.c.client == client, EVENT.c.id > after)
            .order_by(EVENT.c.id)
            .limit(10_000)
        )
        if state is not None:
            query = query.where(TASK.c.state == state)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(query)).mappings()
            return [TaskEvent.from_stored(r["task_id"], r["id"], r["type"], r["timestamp"], r["data"]) for r in rows]

    async def newest_logs(self, task_ids: Sequence[str], per_task: int) -> dict[str, list[TaskEvent]]:
        """Up to `per_task` newest log events of each task, oldest first, in one query."""
        if not task_ids:
            return {}
        rank = func.row_number().over(partition_by=EVENT.c.task_id, order_by=EVENT.c.id.desc()).label("rank")
        ranked = select(EVENT, rank).where(EVENT.c.task_id.in_(task_ids), EVENT.c.type == "log").subquery()
        query = select(ranked).where(ranked.c.rank <= per_task).order_by(ranked.c.task_id, ranked.c.id)
        found: dict[str, list[TaskEvent]] = {}
        async with self.reader.connect() as conn:
            for r in (await conn.execute(query)).mappings():
                event = TaskEvent.from_stored(r["task_id"], r["id"], r["type"], r["timestamp"], r["data"])
                found.setdefault(r["task_id"], []).append(event)
        return found

    async def events_after(self, task_id: str, after: int) -> list[TaskEvent]:
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(EVENT).where(EVENT.c.task_id == task_id, EVENT.c.id > after).order_by(EVENT.c.id)
                )
            ).mappings()
            return [TaskEvent.from_stored(r["task_id"], r["id"], r["type"], r["timestamp"], r["data"]) for r in rows]

    # -- artifacts ----------------------------------------------------------

    async def put_artifact(self, task_id: str, name: str, label: str, mime: str, data: bytes) -> None:
        """Retried through an outage, as the group writer's writes are. A retry whose
        earlier attempt was committed unacknowledged finds the row there: the name
        is this task's alone (the runner makes it unique), so that row is this one."""
        values = {
            "task_id": task_id,
            "name": name,
            "label": label,
            "mime": mime,
            "size": len(data),
            "data": data,
            "created_at": utcnow(),
        }
        dialect_insert = sqlite_insert if self.is_sqlite else postgresql_insert
        statement = dialect_insert(ARTIFACT).values(values).on_conflict_do_nothing(index_elements=["task_id", "name"])

        async def write() -> None:
            async with self.engine.begin() as conn:
                await conn.execute(statement)

        await self._through_outages(write)

    async def get_artifact(self, task_id: str, name: str) -> ArtifactRecord | None:
        if names_nothing_stored(task_id, name):
            return None
        async with self.reader.connect() as conn:
            query = select(ARTIFACT).where(ARTIFACT.c.task_id == task_id, ARTIFACT.c.name == name)
            row = (await conn.execute(query)).mappings().first()
        return ArtifactRecord(**row) if row is not None else None

    # -- settings -----------------------------------------------------------

    async def setting(self, key: str, default: str) -> str:
        """The stored value of `key`; the first caller of any worker stores `default`."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(SETTING.c.value).where(SETTING.c.key == key))).first()
            if row is not None:
                return str(row[0])
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(SETTING).values(key=key, value=default))
            return default
        except IntegrityError:  # another worker stored it first
            async with self.reader.connect() as conn:
                return str((await conn.execute(select(SETTING.c.value).where(SETTING.c.key == key))).scalar_one())

    # -- workers ------------------------------------------------------------

    async def heartbeat(self, worker_id: str, hostname: str, pid: int, now: datetime) -> bool:
        """Records that the worker is alive; False if the others had declared it dead."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(WORKER.c.stopped_at).where(WORKER.c.id == worker_id))).first()
            if row is None:
                await conn.execute(
                    insert(WORKER).values(id=worker_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now)
                )
                return True
            await conn.execute(
                update(WORKER)
                .where(WORKER.c.id == worker_id)
                .values(heartbeat_at=now, stopped_at=None, stop_reason=None)
            )
            return row[0] is None

    async def workers(self, include_stopped: bool = False) -> list[WorkerRecord]:
        query = select(WORKER).order_by(WORKER.c.hostname, WORKER.c.started_at)
        if not include_stopped:
            query = query.where(WORKER.c.stopped_at.is_(None))
        async with self.reader.connect() as conn:
            return [WorkerRecord(**r) for r in (await conn.execute(query)).mappings()]

    async def mark_workers_stopped(self, worker_ids: Sequence[str], reason: str, now: datetime) -> None:
        if worker_ids:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(WORKER)
                    .where(WORKER.c.id.in_(worker_ids), WORKER.c.stopped_at.is_(None))
                    .values(stopped_at=now, stop_reason=reason)
                )

    async def forget_workers(self, stopped_before: datetime) -> None:
        """Rows of workers that left long ago (the dashboard shows recent ones)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(WORKER).where(WORKER.c.stopped_at < as_utc_aware(stopped_before)))

    async def task_counts_by_worker(self) -> dict[str, dict[str, int]]:
        """Per worker: how many of its tasks are running, and how many ended."""
        active = [s.value for s in ACTIVE_STATUSES]
        running = func.sum(case((TASK.c.status.in_(active), 1), else_=0))
        query = (
            select(TASK.c.worker_id, func.count(), running)
            .where(TASK.c.worker_id.is_not(None))
            .group_by(TASK.c.worker_id)
        )
        async with self.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            str(w): {"started": int(n), "running": int(r or 0), "finished": int(n) - int(r or 0)} for w, n, r in rows
        }

    async def orphaned_tasks(self, live_worker_ids: Sequence[str]) -> list[PlainRecord]:
        """Active tasks whose worker is not among the live ones."""
        active = [s.value for s in ACTIVE_STATUSES]
        query = select(TASK).where(TASK.c.status.in_(active))
        if live_worker_ids:
            query = query.where((TASK.c.worker_id.is_(None)) | (TASK.c.worker_id.not_in(live_worker_ids)))
        async with self.reader.connect() as conn:
            return [PlainRecord(**r) for r in (await conn.execute(query)).mappings()]

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
                await conn.execute(insert(EVENT), [event_row(e) for e in events])
        return True
