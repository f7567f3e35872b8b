"""Synthetic receipt rows for the reconciliation tests: reconciliation reads only a receipt's
code, number, digest, total and issuer, so tests write rows straight into the ledger's
receipts table instead of issuing thousands of signed receipts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.ledger.years import issue_year

__all__ = ["AT", "CODE", "add_receipts", "row"]

#: 宁夏's receipt code of 2026 (province 64, category 71, series 01, year 26).
CODE = "64710126"
#: When every synthetic receipt was issued.
AT = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)


def row(number: int, issuer: str = "640100", code: str = CODE, **kw: Any) -> dict[str, Any]:
    """A synthetic receipt row: reconciliation reads only code, number, digest, total, issuer."""
    values: dict[str, Any] = {
        "code": code,
        "number": number,
        "issuer": issuer,
        "kind": "normal",
        "issued_at": AT,
        "period": "2026-10",
        "check_code": "abc123",
        "payer_name": "宁夏贺兰山实业有限公司",
        "payer_kind": "enterprise",
        "payer_id": "91640100MA7600001J",
        "total_fen": 10_000 + number % 977,
        "original_code": None,
        "original_number": None,
        "xml": b"<Receipt/>",
        "digest": hashlib.sha256(f"{code}-{number}-{issuer}".encode()).hexdigest(),
    }
    values.update(kw)
    return values


def add_receipts(db: Database, rows: Iterable[dict[str, Any]]) -> None:
    """Insert synthetic receipt rows directly (no events: reconciliation needs none), in one
    statement as the issuing and import paths do (``receipt_rows.bulk_insert``: COPY on
    PostgreSQL). Not an executemany: psycopg sends that as one INSERT per row, each firing the
    statistics' statement trigger (0.5-0.7 ms a statement), and the cost per row grows with the
    rows of the transaction besides (60,000 rows: 51 s; the cause of that growth is open)."""
    batch = [{"issue_year": issue_year(r["code"]), **r} for r in rows]  # the ORM's default
    with Session(db.engine) as session, session.begin():
        bulk_insert(session, ReceiptRow, batch)
