"""Declared wage bills (计拨工资总额) per payer and 所属期, each correction a new row naming the
one it supersedes; a cache of the ``wages.declared`` events (docs/arrears.md).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wage_declarations",
        sa.Column(
            "event_seq",
            sa.BigInteger(),
            sa.ForeignKey("events.seq"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("period", sa.String(15), nullable=False),
        sa.Column("wage_fen", sa.BigInteger(), nullable=False),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("supersedes", sa.BigInteger(), nullable=True, unique=True),
        sa.Column("reason", sa.String(200), nullable=True),
    )
    op.create_index("wage_declarations_uscc", "wage_declarations", ["uscc", "period"])


def downgrade() -> None:
    op.drop_index("wage_declarations_uscc", table_name="wage_declarations")
    op.drop_table("wage_declarations")
