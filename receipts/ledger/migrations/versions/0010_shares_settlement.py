"""Shares stored with receipts, adopted sharing tables, settlement statements and transfers
(docs/settlement.md); caches of their events.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_shares",
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("line", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("issuer", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("item_code", sa.String(10), nullable=False),
        sa.Column("situation", sa.String(20), nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("grassroots_fen", sa.BigInteger(), nullable=False),
        sa.Column("county_fen", sa.BigInteger(), nullable=False),
        sa.Column("city_fen", sa.BigInteger(), nullable=False),
        sa.Column("province_fen", sa.BigInteger(), nullable=False),
        sa.Column("national_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "grassroots_fen + county_fen + city_fen + province_fen + national_fen = amount_fen",
            name="receipt_shares_sum",
        ),
    )
    op.create_index("receipt_shares_issuer_period", "receipt_shares", ["issuer", "period"])
    op.create_table(
        "sharing_tables",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=True),
    )
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("federation", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("upward_fen", sa.BigInteger(), nullable=False),
        sa.Column("grassroots_fen", sa.BigInteger(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
        sa.UniqueConstraint("direction", "digest", name="settlement_statements_digest"),
    )
    op.create_index(
        "settlement_statements_period", "settlement_statements", ["period", "federation"]
    )
    op.create_table(
        "settlement_transfers",
        sa.Column(
            "event_seq",
            sa.BigInteger(),
            sa.ForeignKey("events.seq"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("federation", sa.String(6), nullable=False),
        sa.Column("payee", sa.String(20), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
    )
    op.create_index("settlement_transfers_period", "settlement_transfers", ["period", "payee"])


def downgrade() -> None:
    op.drop_index("settlement_transfers_period", table_name="settlement_transfers")
    op.drop_table("settlement_transfers")
    op.drop_index("settlement_statements_period", table_name="settlement_statements")
    op.drop_table("settlement_statements")
    op.drop_table("sharing_tables")
    op.drop_index("receipt_shares_issuer_period", table_name="receipt_shares")
    op.drop_table("receipt_shares")
