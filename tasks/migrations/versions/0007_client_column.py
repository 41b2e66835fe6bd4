"""One word per idea: the client a task belongs to is `client` in the table too
(it was `owner`, while the API always said `client`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_owner", table_name="task")
    # Both SQLite (3.25+) and PostgreSQL rename in place and carry the column's
    # other indexes along.
    op.execute("ALTER TABLE task RENAME COLUMN owner TO client")
    op.create_index("ix_task_client", "task", ["client"])


def downgrade() -> None:
    op.drop_index("ix_task_client", table_name="task")
    op.execute("ALTER TABLE task RENAME COLUMN client TO owner")
    op.create_index("ix_task_owner", "task", ["owner"])
