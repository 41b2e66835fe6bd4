"""The task search finds text as it was given, on both stores: text outside ASCII
and quoted text in a task's arguments and result, in rows written now and in
rows written before migration 0009, whose search text held JSON's escapes."""

from __future__ import annotations

import json

from sqlalchemy import text

from tasks.ids import new_task_id
from tasks.queries import TaskQuery
from tasks.rows import search_text, searchable_json
from tasks.store import Store
from tasks.tables import TaskRecord
from tests.support.rows import task_row

ARGS = {"name": 'Zoë says "héllo"', "city": "東京"}
RESULT = {"greeting": "Ça va, MÜNCHEN?"}
NEEDLES = ("ZOË", '"héllo"', "東京", "ça va", "münchen")


def _row(task_id: str, search: str) -> dict[str, object]:
    return task_row(task_id, args=ARGS, result=RESULT, search_text=search)


async def _found(store: Store, needle: str) -> list[str]:
    return sorted(record.id for record in await store.list_tasks(TaskQuery(all_clients=True, search=needle)))


async def test_a_search_finds_text_outside_ascii_and_quotes_in_new_and_migrated_rows(store: Store) -> None:
    old, new, plain = sorted(new_task_id() for _ in range(3))
    # As the runner wrote it before 0009: JSON with its default escapes, lowercased.
    escaped = "\n".join((old, json.dumps(ARGS, separators=(",", ":")), "", json.dumps(RESULT), "")).lower()
    await store.insert_task(_row(old, escaped))
    record = TaskRecord(**_row(new, ""))
    await store.insert_task(_row(new, search_text(record, searchable_json(ARGS))))
    await store.insert_task(task_row(plain, args={"name": "plain"}, search_text=f"{plain}\n" + '{"name":"plain"}'))
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    await store.migrate()  # 0009 rebuilds the escaped row's search text

    for needle in NEEDLES:
        assert await _found(store, needle) == sorted([old, new]), needle
    assert await _found(store, "plain") == [plain]
    assert await _found(store, "\\u00eb") == []  # the escapes are gone
    migrated = await store.get_task(old)
    assert migrated is not None and migrated.args == ARGS and migrated.result == RESULT
