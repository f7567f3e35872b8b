"""Archive packages of closed periods.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archives",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(7), nullable=False),
        sa.Column("months", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(13), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("archives")
