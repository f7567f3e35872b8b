"""所属期 beyond a month: an item's period may be a quarter, a range of months or a year
(docs/formats.md, "所属期 and rates"), up to 15 characters (``2025-07~2026-06``).

Existing rows keep their ``YYYY-MM`` text, which is the canonical form of a month.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipt_items") as batch:
        batch.alter_column(
            "item_period",
            existing_type=sa.String(7),
            type_=sa.String(15),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("receipt_items") as batch:
        batch.alter_column(
            "item_period",
            existing_type=sa.String(15),
            type_=sa.String(7),
            existing_nullable=False,
        )
