"""Retention deadline, idempotency keys, list ordering index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(300), nullable=True))
        batch.add_column(sa.Column("args_hash", sa.String(64), nullable=True))
    op.create_index("ix_task_created_id", "task", ["created_at", "id"])
    op.create_index("ix_task_purge_after", "task", ["purge_after"])
    op.create_index("ix_task_idempotency_key", "task", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_task_idempotency_key", table_name="task")
    op.drop_index("ix_task_purge_after", table_name="task")
    op.drop_index("ix_task_created_id", table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("args_hash")
        batch.drop_column("idempotency_key")
        batch.drop_column("purge_after")
