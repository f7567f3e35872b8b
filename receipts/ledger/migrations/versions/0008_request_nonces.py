"""The tier API's replay protection (docs/security.md, "Tier API authentication"): the nonces of
signed requests seen within the accepted clock window, shared by every worker process of a node.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_nonces",
        sa.Column("org_code", sa.String(6), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("request_nonces_seen", "request_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("request_nonces_seen", table_name="request_nonces")
    op.drop_table("request_nonces")
