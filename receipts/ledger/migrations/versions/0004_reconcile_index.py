"""A covering index for reconciliation: block summaries read only the index, never the rows
(which carry several KB of signed XML each).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "receipts_reconcile", "receipts", ["code", "number", "issuer", "digest", "total_fen"]
    )


def downgrade() -> None:
    op.drop_index("receipts_reconcile", table_name="receipts")
