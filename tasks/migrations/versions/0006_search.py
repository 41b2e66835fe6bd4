"""For the dashboard's reads: a search column (lowercased id, arguments, message,
result and error), each finished task's run time, and covering indexes for the
dashboard's charts (see tasks/tables.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
    op.drop_index("ix_task_finished_at", table_name="task")
    op.create_index("ix_task_stats", "task", ["created_at", "status", "owner", "state", "task"])
    op.create_index("ix_task_finished", "task", ["finished_at", "status", "owner", "state", "task"])
    op.create_index("ix_task_durations", "task", ["state", "task", "duration_seconds", "created_at", "owner", "status"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE task SET search_text = lower(id || char(10) || coalesce(args, '') || char(10) || "
            "coalesce(message, '') || char(10) || coalesce(result, '') || char(10) || coalesce(error, '')), "
            "duration_seconds = (julianday(finished_at) - julianday(started_at)) * 86400.0"
        )
    else:
        op.execute(
            "UPDATE task SET search_text = lower(concat_ws(E'\\n', id, args::text, message, result::text, error)), "
            "duration_seconds = extract(epoch from finished_at - started_at)"
        )
        _trigram_index()


def _trigram_index() -> None:
    """Substring search through an index where pg_trgm can be had (a trusted
    extension since PostgreSQL 13); without it, search scans, as on SQLite."""
    connection = op.get_bind()
    savepoint = connection.begin_nested()
    try:
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        connection.execute(
            sa.text("CREATE INDEX ix_task_search_trgm ON task USING gin (search_text gin_trgm_ops)")
        )
    except sa.exc.DBAPIError:
        savepoint.rollback()
    else:
        savepoint.commit()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_task_search_trgm")
    op.drop_index("ix_task_durations", table_name="task")
    op.drop_index("ix_task_finished", table_name="task")
    op.drop_index("ix_task_stats", table_name="task")
    op.create_index("ix_task_finished_at", "task", ["finished_at"])
    with op.batch_alter_table("task") as batch:
        batch.drop_column("duration_seconds")
        batch.drop_column("search_text")
