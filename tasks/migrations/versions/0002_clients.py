"""Clients and their hashed tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "client_token",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_client_token_client", "client_token", ["client"])
    op.create_index("ix_client_token_token_hash", "client_token", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_client_token_token_hash", table_name="client_token")
    op.drop_index("ix_client_token_client", table_name="client_token")
    op.drop_table("client_token")
    op.drop_table("client")
