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


async def test_a_path_is_found_by_its_backslash_and_not_by_a_tab(store: Store) -> None:
    path, other = sorted(new_task_id() for _ in range(2))
    for task_id, args in ((path, {"dir": "C:\\temp"}), (other, {"dir": "D:\\data"})):
        record = TaskRecord(**task_row(task_id, args=args))
        await store.insert_task(task_row(task_id, args=args, search_text=search_text(record, searchable_json(args))))
    assert await _found(store, "c:\\temp") == [path]
    assert await _found(store, "\temp") == []  # JSON writes a tab as backslash-t: not a match for the path


async def test_the_migration_rebuilds_rows_holding_escaped_surrogates_and_keeps_rows_that_do_not_parse(
    store: Store,
) -> None:
    odd, broken = sorted(new_task_id() for _ in range(2))
    await store.insert_task(task_row(odd, search_text=f"{odd}\n" + '{"name":"\\ud800 \\u00e9t\\u00e9"}'))
    await store.insert_task(task_row(broken, search_text=f"{broken}\nkept \\u00e9"))
    async with store.engine.begin() as conn:
        # Stored text no engine write makes: an escaped unpaired surrogate; on SQLite, args that do not parse.
        escaped_surrogate = {"args": '{"name":"\\ud800 été"}', "id": odd}
        await conn.execute(text("UPDATE task SET args = :args WHERE id = :id"), escaped_surrogate)
        if store.is_sqlite:
            await conn.execute(text("UPDATE task SET args = 'not json' WHERE id = :id"), {"id": broken})
        await conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    await store.migrate()
    assert await _found(store, "ÉTÉ") == [odd]  # the surrogate became U+FFFD, as a new row's would
    if store.is_sqlite:
        async with store.engine.connect() as conn:
            kept = (await conn.execute(text("SELECT search_text FROM task WHERE id = :id"), {"id": broken})).scalar()
        assert kept == f"{broken.lower()}\nnot json\n\n\n"
