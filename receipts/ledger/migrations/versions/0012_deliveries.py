"""Deliveries of receipts to payers by email (docs/delivery.md): the cache of the
``delivery.*`` events, one row per receipt and address.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        sa.Column("address", sa.String(254), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reply", sa.String(300), nullable=True),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )
    op.create_index("deliveries_status", "deliveries", ["status"])


def downgrade() -> None:
    op.drop_index("deliveries_status", table_name="deliveries")
    op.drop_table("deliveries")
