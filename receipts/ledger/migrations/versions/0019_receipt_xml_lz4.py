"""A receipt's XML is compressed with LZ4, not PostgreSQL's own pglz, where the server has it
(docs/operations.md, "Partitions by year of issue").

A signed receipt is ~5 KB of XML, over the size at which PostgreSQL compresses a value. pglz
cost ~55 µs of the server's CPU a receipt stored, more than a third of everything the server
does for an imported receipt, and LZ4 stores the same receipts in the same space (a COPY of
20,000 receipts of the import benchmark's package: 79-84 µs against 23-28 µs a row, 4,197 bytes
a row either way). LZ4 also reads back faster. The column's method applies to values stored
from now on; receipts stored before stay as they are, and both read alike.

``ALTER TABLE ... SET COMPRESSION`` on the partitioned ``receipts`` sets the method that
partitions made later (``CREATE TABLE ... PARTITION OF``) inherit, but does not reach the
partitions already there: each is altered too, the DEFAULT one included (a partition made
from DEFAULT's rows copies it, receipts.ledger.partitions). A server built without LZ4 keeps
pglz. SQLite stores the XML as it is.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, text

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _tables(connection: Connection) -> list[str]:
    """``receipts`` and every partition of it (attached ones: detached years keep theirs)."""
    partitions = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('receipts') ORDER BY c.relname"
        )
    ).scalars()
    return ["receipts", *partitions]


def _set(method: str) -> None:
    connection = op.get_bind()
    quote = connection.dialect.identifier_preparer.quote
    for table in _tables(connection):
        op.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN xml SET COMPRESSION {method}")


def lz4_available(connection: Connection) -> bool:
    """Whether this PostgreSQL server was built with LZ4 (default_toast_compression offers it)."""
    offered = connection.execute(
        text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).scalar()
    return bool(offered)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql" and lz4_available(connection):
        _set("lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set("default")
