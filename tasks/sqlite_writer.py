"""SQLite's writer thread: the store's batches run there whole, with the synchronous
driver, on one connection kept open. The async driver hands every statement, cursor
and commit to its own thread and back, each hand-back a wake-up of the event loop;
here a batch costs one hand-over, and no pool checkout or reset per transaction.

A batch's executemany goes to the driver directly (`execute_many`): the statement
is compiled once, and each row's values pass through the same bind processors
SQLAlchemy applies, so the stored values are the same. SQLAlchemy's own
executemany spent about as much on its per-row machinery (parameter dictionaries,
key lookups) as the processors themselves, all of it holding the GIL that the
event loop needs."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert, Update


def _datetime_text(fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DATETIME processor with its default format, for a datetime: the
    same text from one tuple format instead of a dict of seven keys, at a third of
    the cost (seven times per task). Anything else goes to SQLAlchemy's own."""
    text = "%04d-%02d-%02d %02d:%02d:%02d.%06d"

    def process(at: Any) -> Any:
        if type(at) is datetime:
            return text % (at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond)
        return fallback(at)

    return process


def _bind_processor(impl: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    process: Callable[[Any], Any] | None = impl.bind_processor(dialect)
    if process is not None and type(impl) is DATETIME and impl._storage_format == DATETIME._storage_format:
        return _datetime_text(process)
    return process


@dataclass(frozen=True)
class Positional:
    """A statement as the driver takes it: its SQL, a getter of the row's values in
    the order of its `?`s, and for each value that SQLAlchemy processes (times,
    JSON) its position, its processor and what the processor makes of None (so a
    None costs no call: JSON's is 'null', a time's None)."""

    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]
    processed: tuple[tuple[int, Callable[[Any], Any], Any], ...]

    @classmethod
    def compiled(cls, statement: Insert | Update, keys: Sequence[str], dialect: Dialect) -> Positional:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not bind parameters by position")
        processed = []
        for position, key in enumerate(compiled.positiontup):
            process = _bind_processor(compiled.binds[key].type.dialect_impl(dialect), dialect)
            if process is not None:
                processed.append((position, process, process(None)))
        order = compiled.positiontup
        values = operator.itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
        return cls(sql=compiled.string, values=values, processed=tuple(processed))

    def parameters(self, row: dict[str, Any]) -> list[Any]:
        values = list(self.values(row))
        for position, process, of_none in self.processed:
            value = values[position]
            values[position] = of_none if value is None else process(value)
        return values


class SqliteWriter:
    def __init__(self, sync_url: str, on_connect: Callable[[Any, Any], None]) -> None:
        self._engine = create_engine(sync_url, pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", on_connect)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="spyglass-sqlite-writer")
        self._conn: Connection | None = None
        self._positional: dict[tuple[Insert | Update, tuple[str, ...]], Positional] = {}

    def execute_many(self, conn: Connection, statement: Insert | Update, rows: list[dict[str, Any]]) -> None:
        """`conn.execute(statement, rows)`, for rows of one shape; `statement` is
        one the store keeps, compiled once per shape."""
        key = (statement, tuple(rows[0]))
        positional = self._positional.get(key)
        if positional is None:
            positional = self._positional[key] = Positional.compiled(statement, key[1], conn.dialect)
        driver_error = conn.dialect.loaded_dbapi.Error
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(positional.sql, [positional.parameters(row) for row in rows])
        except driver_error as exc:  # as SQLAlchemy raises it: IntegrityError, OperationalError, ...
            raise DBAPIError.instance(
                positional.sql, None, exc, driver_error, hide_parameters=True, dialect=conn.dialect, ismulti=True
            ) from exc
        finally:
            cursor.close()

    async def transaction(self, work: Callable[[Connection], None]) -> None:
        """Runs `work` in one transaction on the writer thread; its error is raised here."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, work)

    def _in_transaction(self, work: Callable[[Connection], None]) -> None:
        if self._conn is None or self._conn.invalidated:
            self._conn = self._engine.connect()
        with self._conn.begin():
            work(self._conn)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()
