"""Retries and cancel requests on tasks, artifacts in the database, installation settings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("retry_of", sa.String(64), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("task_event") as batch:
        batch.alter_column("type", type_=sa.String(64), existing_type=sa.String(16), existing_nullable=False)
    with op.batch_alter_table("worker") as batch:
        batch.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stop_reason", sa.String(16), nullable=True))
    op.create_index("ix_task_worker_id", "task", ["worker_id"])
    op.create_index("ix_task_finished_at", "task", ["finished_at"])
    op.create_table(
        "task_artifact",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("mime", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(1024), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("setting")
    op.drop_table("task_artifact")
    op.drop_index("ix_task_finished_at", table_name="task")
    op.drop_index("ix_task_worker_id", table_name="task")
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("stop_reason")
        batch.drop_column("stopped_at")
    with op.batch_alter_table("task_event") as batch:
        batch.alter_column("type", type_=sa.String(16), existing_type=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("task") as batch:
        batch.drop_column("cancel_requested_at")
        batch.drop_column("retry_of")
        batch.drop_column("attempt")
