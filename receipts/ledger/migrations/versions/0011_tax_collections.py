"""Tax-collected union dues (税务代收, docs/tax.md): the tax bureau's collection records with
their shares (分成), a cache of the ``tax.imported`` events.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_collections",
        sa.Column("voucher", sa.String(32), primary_key=True),
        sa.Column("issuer", sa.String(6), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("payer_name", sa.String(100), nullable=True),
        sa.Column("item_code", sa.String(4), nullable=False),
        sa.Column("period", sa.String(15), nullable=False),
        sa.Column("first_month", sa.String(7), nullable=False),
        sa.Column("last_month", sa.String(7), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.Column("grassroots_fen", sa.BigInteger(), nullable=False),
        sa.Column("county_fen", sa.BigInteger(), nullable=False),
        sa.Column("city_fen", sa.BigInteger(), nullable=False),
        sa.Column("province_fen", sa.BigInteger(), nullable=False),
        sa.Column("national_fen", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
        sa.CheckConstraint(
            "grassroots_fen + county_fen + city_fen + province_fen + national_fen = amount_fen",
            name="tax_collections_shares_sum",
        ),
    )
    op.create_index("tax_collections_payer", "tax_collections", ["issuer", "uscc", "item_code"])
    op.create_index("tax_collections_collected", "tax_collections", ["issuer", "collected_on"])


def downgrade() -> None:
    op.drop_index("tax_collections_collected", table_name="tax_collections")
    op.drop_index("tax_collections_payer", table_name="tax_collections")
    op.drop_table("tax_collections")
