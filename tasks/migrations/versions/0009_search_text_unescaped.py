"""The search text holds the arguments' and result's text outside ASCII as itself.
It held them as JSON's `\\u` escapes, so a search for "zoë" or "東京" found
nothing in them, and lowercasing could not fold an escaped "Ë". Rows whose
search text holds such an escape are rebuilt from their columns, a thousand at a
time (a frozen copy of `tasks.rows.search_text`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MAX_SEARCH_TEXT = 8192
PAGE = 1000  # ids per page
CHUNK_BYTES = 8_000_000  # of stored JSON read at once: a result has no size limit

TASK = sa.table(
    "task",
    sa.column("id", sa.String),
    sa.column("args", sa.Text),  # read as stored: a row whose JSON does not parse is kept as it is
    sa.column("result", sa.Text),
    sa.column("message", sa.String),
    sa.column("error", sa.String),
    sa.column("search_text", sa.Text),
)


def _json(stored: Any, decoded: bool) -> str:
    """A column's JSON as the search holds it, from the stored text (SQLite) or the
    value the driver decoded (asyncpg)."""
    value = stored
    if not decoded and stored is not None:
        try:
            value = json.loads(stored)
        except ValueError:
            return str(stored)
    return "" if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _search_text(row: Any, decoded: bool) -> str:
    args, result = _json(row.args, decoded), _json(row.result, decoded)
    parts = (row.id, args, row.message or "", result[:MAX_SEARCH_TEXT], row.error or "")
    text: str = "\n".join(parts).lower()[: MAX_SEARCH_TEXT * 2]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an escaped unpaired surrogate: U+FFFD, as tasks.text.clean_text makes it
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _size(column: Any) -> Any:
    return sa.func.coalesce(sa.func.length(sa.cast(column, sa.Text)), 0)


def upgrade() -> None:
    connection = op.get_bind()
    decoded = connection.dialect.name != "sqlite"
    escaped = TASK.c.search_text.like("%\\\\u%", escape="\\")
    update = sa.update(TASK).where(TASK.c.id == sa.bindparam("_id")).values(search_text=sa.bindparam("_text"))
    after = ""
    while True:
        page = connection.execute(
            sa.select(TASK.c.id, _size(TASK.c.args) + _size(TASK.c.result))
            .where(escaped, TASK.c.id > after)
            .order_by(TASK.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        for ids in _chunks(page):
            rows = connection.execute(
                sa.select(TASK.c.id, TASK.c.args, TASK.c.result, TASK.c.message, TASK.c.error).where(
                    TASK.c.id.in_(ids)
                )
            ).all()
            connection.execute(update, [{"_id": row.id, "_text": _search_text(row, decoded)} for row in rows])
        after = page[-1][0]


def _chunks(page: Any) -> list[list[str]]:
    """The page's ids in chunks of at most CHUNK_BYTES of JSON (a larger row alone)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for task_id, row_size in page:
        if chunks[-1] and size + row_size > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(task_id)
        size += row_size
    return chunks


def downgrade() -> None:
    """Nothing to undo: the earlier code searches unescaped text as well as it did
    the escaped text of arguments that were all ASCII."""
