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
BATCH = 1000

TASK = sa.table(
    "task",
    sa.column("id", sa.String),
    sa.column("args", sa.JSON),
    sa.column("result", sa.JSON),
    sa.column("message", sa.String),
    sa.column("error", sa.String),
    sa.column("search_text", sa.Text),
)


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _search_text(row: Any) -> str | None:
    parts = (row.id, _json(row.args), row.message or "", _json(row.result)[:MAX_SEARCH_TEXT], row.error or "")
    text = "\n".join(parts).lower()[: MAX_SEARCH_TEXT * 2]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None  # an unpaired surrogate no store can hold: the row keeps its text
    return text


def upgrade() -> None:
    connection = op.get_bind()
    escaped = TASK.c.search_text.like("%\\\\u%", escape="\\")
    update = sa.update(TASK).where(TASK.c.id == sa.bindparam("_id")).values(search_text=sa.bindparam("_text"))
    after = ""
    while True:
        page = connection.execute(
            sa.select(TASK.c.id, TASK.c.args, TASK.c.result, TASK.c.message, TASK.c.error)
            .where(escaped, TASK.c.id > after)
            .order_by(TASK.c.id)
            .limit(BATCH)
        ).all()
        if not page:
            return
        rebuilt = [{"_id": row.id, "_text": text} for row in page if (text := _search_text(row)) is not None]
        if rebuilt:
            connection.execute(update, rebuilt)
        after = page[-1].id


def downgrade() -> None:
    """Nothing to undo: the earlier code searches unescaped text as well as it did
    the escaped text of arguments that were all ASCII."""
