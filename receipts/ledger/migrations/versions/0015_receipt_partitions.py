"""Receipts and their items by year of issue (issue 19; docs/operations.md, "Partitions by year
of issue"): both tables gain ``issue_year``, the code's year (a CHECK holds it there), which
joins their primary keys and the digest's unique constraint. On PostgreSQL both become tables
partitioned by range of ``issue_year``, one partition per year present, the current and the next
year, and a DEFAULT partition; on SQLite they stay plain tables of the same columns and keys.

Each table is rebuilt: the old one renamed aside, the new one created, the rows copied with
``INSERT ... SELECT`` (the year computed from the code), the old one dropped, the indexes made
on the new one (on PostgreSQL, partitioned indexes: one per partition, new partitions included).
Reconciliation's covering index gains ``issue_year``: its queries name the year, and must still
read the index alone.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_CHECK = "issue_year = 2000 + CAST(substr(code, 7, 2) AS INTEGER)"
# The rows copied, the year computed from the code (upgrade) or left out (downgrade).
_COPY_UP = (
    "INSERT INTO receipts (issue_year, code, number, digest, issuer, kind, issued_at, period, "
    "check_code, payer_name, payer_kind, payer_id, total_fen, original_code, original_number, "
    "xml) SELECT 2000 + CAST(substr(code, 7, 2) AS INTEGER), code, number, digest, issuer, "
    "kind, issued_at, period, check_code, payer_name, payer_kind, payer_id, total_fen, "
    "original_code, original_number, xml FROM receipts_old",
    "INSERT INTO receipt_items (issue_year, code, number, line, item_code, item_period, "
    "amount_fen) SELECT 2000 + CAST(substr(code, 7, 2) AS INTEGER), code, number, line, "
    "item_code, item_period, amount_fen FROM receipt_items_old",
)
_COPY_DOWN = (
    "INSERT INTO receipts (code, number, digest, issuer, kind, issued_at, period, check_code, "
    "payer_name, payer_kind, payer_id, total_fen, original_code, original_number, xml) "
    "SELECT code, number, digest, issuer, kind, issued_at, period, check_code, payer_name, "
    "payer_kind, payer_id, total_fen, original_code, original_number, xml FROM receipts_old",
    "INSERT INTO receipt_items (code, number, line, item_code, item_period, amount_fen) "
    "SELECT code, number, line, item_code, item_period, amount_fen FROM receipt_items_old",
)
_YEARS_PRESENT = "SELECT DISTINCT 2000 + CAST(substr(code, 7, 2) AS INTEGER) FROM receipts_old"
# The digest's unique constraint of the table set aside: named by PostgreSQL in 0001, by 0015
# after an upgrade; renamed out of the way of the new table's.
_RENAME_DIGEST_KEY = (
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'receipts_digest_key' "
    "AND conrelid = to_regclass('receipts_old')) THEN ALTER TABLE receipts_old RENAME "
    "CONSTRAINT receipts_digest_key TO receipts_old_digest_key; END IF; END $$",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'receipts_digest_year' "
    "AND conrelid = to_regclass('receipts_old')) THEN ALTER TABLE receipts_old RENAME "
    "CONSTRAINT receipts_digest_year TO receipts_old_digest_year; END IF; END $$",
)
_INDEXES = (
    ("ix_receipts_issuer", ["issuer"]),
    ("ix_receipts_period", ["period"]),
    ("receipts_original", ["original_code", "original_number"]),
    ("receipts_reconcile", ["code", "number", "issuer", "digest", "total_fen"]),
)
#: Reconciliation's covering index gains the year its queries name (to stay index-only).
_INDEXES_NOW = (*_INDEXES[:3], ("receipts_reconcile", [*_INDEXES[3][1], "issue_year"]))


def _receipts(name: str, year: bool, **partitioning: Any) -> None:
    keys = ["code", "number", "issue_year"] if year else ["code", "number"]
    op.create_table(
        name,
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        *([sa.Column("issue_year", sa.SmallInteger(), nullable=False)] if year else []),
        sa.Column("digest", sa.String(64), nullable=False),
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
        sa.PrimaryKeyConstraint(*keys, name="receipts_pkey"),
        sa.UniqueConstraint(
            *(["digest", "issue_year"] if year else ["digest"]),
            name="receipts_digest_year" if year else "receipts_digest_key",
        ),
        *([sa.CheckConstraint(_CHECK, name="receipts_issue_year")] if year else []),
        **partitioning,
    )


def _items(name: str, year: bool, **partitioning: Any) -> None:
    keys = ["code", "number", "line", "issue_year"] if year else ["code", "number", "line"]
    op.create_table(
        name,
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        *([sa.Column("issue_year", sa.SmallInteger(), nullable=False)] if year else []),
        sa.Column("item_code", sa.String(4), nullable=False),
        sa.Column("item_period", sa.String(15), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*keys, name="receipt_items_pkey"),
        *([sa.CheckConstraint(_CHECK, name="receipt_items_issue_year")] if year else []),
        **partitioning,
    )


def _set_aside() -> None:
    """Rename both tables aside and drop their indexes, whose names the new tables take."""
    for index, _ in _INDEXES_NOW:
        op.drop_index(index, table_name="receipts")
    op.rename_table("receipts", "receipts_old")
    op.rename_table("receipt_items", "receipt_items_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint names are the schema's there
        op.execute("ALTER TABLE receipts_old RENAME CONSTRAINT receipts_pkey TO receipts_old_pkey")
        op.execute(
            "ALTER TABLE receipt_items_old RENAME CONSTRAINT receipt_items_pkey "
            "TO receipt_items_old_pkey"
        )
        for statement in _RENAME_DIGEST_KEY:
            op.execute(statement)


def _finish(indexes: tuple[tuple[str, list[str]], ...]) -> None:
    op.drop_table("receipts_old")
    op.drop_table("receipt_items_old")
    for index, columns in indexes:
        op.create_index(index, "receipts", columns)


def _partitions() -> None:
    """A partition per year present, the current and the next year, and a DEFAULT one."""
    found = op.get_bind().execute(sa.text(_YEARS_PRESENT))
    now = datetime.now(UTC).year
    for year in sorted({int(y) for y in found.scalars()} | {now, now + 1}):
        for table in ("receipts", "receipt_items"):
            op.execute(
                f"CREATE TABLE {table}_{year} PARTITION OF {table} "
                f"FOR VALUES FROM ({year}) TO ({year + 1})"
            )
    for table in ("receipts", "receipt_items"):
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    partitioning: dict[str, Any] = {}
    if postgresql:
        partitioning["postgresql_partition_by"] = "RANGE (issue_year)"
    _set_aside()
    _receipts("receipts", True, **partitioning)
    _items("receipt_items", True, **partitioning)
    if postgresql:
        _partitions()
    for statement in _COPY_UP:
        op.execute(statement)
    _finish(_INDEXES_NOW)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _set_aside()
    _receipts("receipts", False)
    _items("receipt_items", False)
    for statement in _COPY_DOWN:
        op.execute(statement)
    if postgresql:  # the partitions go with their tables
        op.execute("DROP TABLE receipts_old CASCADE")
        op.execute("DROP TABLE receipt_items_old CASCADE")
        for index, columns in _INDEXES:
            op.create_index(index, "receipts", columns)
        return
    _finish(_INDEXES)
