"""The indexes that hold only the rows with a value (migration 0008) still serve
the reads they were made for, on both stores: a partial index is used only when
the read's own conditions imply the value is set, so a read reworded without
that condition would silently scan the table instead. And the migration that
made them finishes on a start after one killed halfway through it."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from tasks.ids import new_task_id
from tasks.store import Store, alembic_config
from tests.support.rows import task_row

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _plans(store: Store, read: Any, index: str) -> list[str]:
    """The query plan of every statement `read()` runs, explained with the
    statement's own parameters. SQLite's planner is told nothing: its plan is the
    one the read gets. PostgreSQL picks among indexes by costs that a table this
    small cannot show, so there the plan is of the table with `index` as its only
    one (dropped in a transaction rolled back) and sequential scans disabled: it
    shows whether the index can serve the read."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await read()
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
    plans = []
    async with store.engine.connect() as conn:
        prefix = "EXPLAIN QUERY PLAN "
        if store.dialect == "postgresql":
            prefix = "EXPLAIN "
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            others = await conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'task' AND indexname <> :index"),
                {"index": index},
            )
            for (other,) in others.all():
                if not other.startswith("ix_task_"):
                    continue  # the primary key's
                await conn.exec_driver_sql(f"DROP INDEX {other}")
        for statement, parameters in statements:
            rows = await conn.exec_driver_sql(prefix + statement, parameters)
            plans.append("\n".join(str(row[-1]) for row in rows))
        await conn.rollback()
    return plans


async def test_reads_of_values_set_late_or_rarely_go_through_their_partial_indexes(store: Store) -> None:
    now = datetime.now(UTC)
    ended = now - timedelta(minutes=1)
    finished = {"status": "Completed", "started_at": ended, "finished_at": now, "duration_seconds": 60.0}
    await store.insert_task(task_row(new_task_id(), idempotency_key="client:key"))
    for _ in range(3):
        task_id = new_task_id()
        await store.insert_task(task_row(task_id))
        await store.update_task(task_id, {**finished, "purge_after": now - timedelta(seconds=1)})

    reads = {
        "ix_task_idempotency_key": lambda: store.find_idempotent("client:key"),
        "ix_task_purge_after": lambda: store.purgeable(now),
    }
    for index, read in reads.items():
        plans = await _plans(store, read, index)
        assert any(index in plan for plan in plans), f"{index} unused:\n" + "\n---\n".join(plans)

    assert (found := await store.find_idempotent("client:key")) is not None and found.idempotency_key == "client:key"
    assert len(await store.purgeable(now)) == 3


async def test_an_idempotency_key_is_still_unique_and_tasks_without_one_are_not_limited(store: Store) -> None:
    for _ in range(3):
        await store.insert_task(task_row(new_task_id()))  # no key: never a conflict
    await store.insert_task(task_row(new_task_id(), idempotency_key="client:once"))
    with pytest.raises(IntegrityError):
        await store.insert_task(task_row(new_task_id(), idempotency_key="client:once"))


async def test_a_start_after_one_killed_midway_through_the_partial_index_migration_finishes_it(
    tmp_path: Path,
) -> None:
    """SQLite commits each DDL statement at once: a start killed between dropping an
    index and making it anew leaves the schema at 0007 without that index."""
    path = tmp_path / "spyglass.db"
    url = f"sqlite+aiosqlite:///{path}"
    store = Store(url)
    await store.start()
    await store.stop()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("DROP INDEX ix_task_idempotency_key")
        db.execute("CREATE UNIQUE INDEX ix_task_idempotency_key ON task (idempotency_key)")
        db.execute("DROP INDEX ix_task_purge_after")  # killed here: the next two never made anew
        db.execute("UPDATE alembic_version SET version_num = '0007'")
        db.commit()

    store = Store(url)
    await store.start()
    await store.stop()
    with contextlib.closing(sqlite3.connect(path)) as db:
        made = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_task_%'"))
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
    for name in ("ix_task_idempotency_key", "ix_task_purge_after"):
        assert "WHERE" in made[name], made[name]
    for name in ("ix_task_finished", "ix_task_durations"):
        assert "WHERE" not in made[name], made[name]
