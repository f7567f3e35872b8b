"""Signature time-stamps (docs/security.md, "Time-stamps"): each receipt's token beside it, and
the serial log of a workspace's time-stamp authority.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_timestamps",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )
    op.create_table(
        "tsa_serials",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imprint", sa.String(64), nullable=False),
    )
    op.create_index("tsa_serials_time", "tsa_serials", ["gen_time"])


def downgrade() -> None:
    op.drop_index("tsa_serials_time", table_name="tsa_serials")
    op.drop_table("tsa_serials")
    op.drop_table("receipt_timestamps")
