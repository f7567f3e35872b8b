"""The payer register (docs/operations.md, "The payer register"): registered payers by USCC with
their current name, and every name with its effective time; caches of the ``payer.*`` events.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payers",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("union_uscc", sa.String(18), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )
    op.create_table(
        "payer_names",
        sa.Column(
            "event_seq",
            sa.BigInteger(),
            sa.ForeignKey("events.seq"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
    )
    op.create_index("payer_names_uscc", "payer_names", ["uscc", "effective_at"])


def downgrade() -> None:
    op.drop_index("payer_names_uscc", table_name="payer_names")
    op.drop_table("payer_names")
    op.drop_table("payers")
