"""Named operators: every event records who wrote it (nullable: events before operators, and
workspaces without any, have none), an index on the event kind (operators are derived from
their events), and a cache of the operators the events add and disable
(docs/security.md, "Operators and key slots").

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("operator", sa.String(40), nullable=True))
    op.create_index("events_kind", "events", ["kind"])
    op.create_table(
        "operators",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("added_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
        sa.Column("disabled_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("operators")
    op.drop_index("events_kind", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("operator")
