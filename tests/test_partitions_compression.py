"""A receipt's XML is stored LZ4-compressed on PostgreSQL (migration 0019): the receipts table
and every partition of it, those made later included, whether made directly or from the rows
waiting in DEFAULT (tests/test_partitions.py); a stored receipt's XML is LZ4; downgraded, the
column goes back to the server's default (pglz)."""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, text

from receipts.issuing.issue import issue_batch
from receipts.ledger import partitions
from receipts.ledger.database import Database
from receipts.ledger.migrate import _config
from tests.support.ledger import SHANGHAI, make_issuer, request, stock_city

YEAR = datetime.now(SHANGHAI).year
lz4_available = importlib.import_module(
    "receipts.ledger.migrations.versions.0019_receipt_xml_lz4"
).lz4_available


def xml_compression(conn: Connection) -> dict[str, str]:
    """The XML column's compression method of receipts and each partition ('l': LZ4, '':
    the server's default)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, a.attcompression FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE a.attname = 'xml' AND c.relnamespace = to_regnamespace(current_schema()) "
            "AND (c.relname = 'receipts' OR c.relname LIKE 'receipts\\_%')"
        )
    ).all()
    return {str(name): str(method) for name, method in rows}


def test_receipt_xml_is_stored_lz4(pg_ledger_db: Database, tmp_path: Path) -> None:
    db = pg_ledger_db
    with db.engine.connect() as conn:
        lz4 = lz4_available(conn)  # a server built without it keeps pglz
    stock_city(db, tmp_path, count=10)
    with db.write() as (session, _state):
        partitions.ensure_years(session, [YEAR, YEAR + 1])
    (issued,) = issue_batch(db, make_issuer(), [request("Z1")])
    with db.engine.connect() as conn:
        methods = xml_compression(conn)
        stored = conn.execute(
            text("SELECT pg_column_compression(xml) FROM receipts WHERE code = :c AND number = :n"),
            {"c": issued.ref.code, "n": issued.ref.number},
        ).scalar()
    assert {"receipts", "receipts_default", f"receipts_{YEAR}", f"receipts_{YEAR + 1}"} <= set(
        methods
    )
    assert set(methods.values()) == ({"l"} if lz4 else {""}), methods
    assert stored == ("lz4" if lz4 else "pglz")

    with db.engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0018")
    with db.engine.connect() as conn:
        assert set(xml_compression(conn).values()) == {""}
