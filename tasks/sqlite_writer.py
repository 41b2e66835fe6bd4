"""SQLite's writer thread: the store's batches run there whole, with the synchronous
driver, on one connection kept open. The async driver hands every statement, cursor
and commit to its own thread and back, each hand-back a wake-up of the event loop;
here a batch costs one hand-over, and no pool checkout or reset per transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection


class SqliteWriter:
    def __init__(self, sync_url: str, on_connect: Callable[[Any, Any], None]) -> None:
        self._engine = create_engine(sync_url, pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", on_connect)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="spyglass-sqlite-writer")
        self._conn: Connection | None = None

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
