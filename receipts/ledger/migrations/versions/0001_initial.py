"""The initial ledger schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_event_log()
    _create_organisations()
    _create_stock()
    _create_receipts()
    _create_bookkeeping()


def _create_event_log() -> None:
    """The chain tip, the hash-chained events and the signed chain heads."""
    op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_code", sa.String(18), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_state_single_row"),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "chain_heads",
        sa.Column("event_count", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", _TS, nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
    )


def _create_organisations() -> None:
    """The registry of federations this ledger knows."""
    op.create_table(
        "organisations",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(12), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("parent", sa.String(6), nullable=True),
    )


def _create_stock() -> None:
    """Allocated number segments and the last number taken per issuer and code."""
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("first", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(6), nullable=False),
        sa.Column("allocated_by", sa.String(6), nullable=False),
        sa.Column("allocated_at", _TS, nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("written_off_at", _TS, nullable=True),
        sa.UniqueConstraint("code", "first", name="segments_code_first"),
        sa.CheckConstraint("first >= 1 AND first <= last", name="segments_range"),
    )
    op.create_index("ix_segments_code", "segments", ["code"])
    op.create_index("ix_segments_holder", "segments", ["holder"])
    op.create_table(
        "number_counters",
        sa.Column("issuer", sa.String(6), primary_key=True),
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
    )


def _create_receipts() -> None:
    """Issued and imported receipts, their lines, and batch clients' references."""
    op.create_table(
        "receipts",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("issuer", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("check_code", sa.String(6), nullable=False),
        sa.Column("payer_name", sa.String(100), nullable=False),
        sa.Column("payer_kind", sa.String(20), nullable=False),
        sa.Column("payer_id", sa.String(32), nullable=True),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("original_code", sa.String(8), nullable=True),
        sa.Column("original_number", sa.BigInteger(), nullable=True),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_receipts_issuer", "receipts", ["issuer"])
    op.create_index("ix_receipts_period", "receipts", ["period"])
    op.create_index("receipts_original", "receipts", ["original_code", "original_number"])
    op.create_table(
        "receipt_items",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        sa.Column("line", sa.Integer(), primary_key=True),
        sa.Column("item_code", sa.String(4), nullable=False),
        sa.Column("item_period", sa.String(7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "client_references",
        sa.Column("issuer", sa.String(6), primary_key=True),
        sa.Column("reference", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
    )


def _create_bookkeeping() -> None:
    """Payers' bookings (入账) of receipts, and closed periods."""
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("voucher", sa.String(64), nullable=False),
        sa.Column("booked_by", sa.String(100), nullable=False),
        sa.Column("booked_at", _TS, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("undone_at", _TS, nullable=True),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )
    op.create_table(
        "period_closes",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("closed_at", _TS, nullable=False),
        sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "period_closes",
        "bookings",
        "client_references",
        "receipt_items",
        "receipts",
        "number_counters",
        "segments",
        "organisations",
        "chain_heads",
        "events",
        "ledger_state",
    ):
        op.drop_table(table)
