"""Synthetic receipt rows for the reconciliation tests: reconciliation reads only a receipt's
code, number, digest, total and issuer, so tests write rows straight into the ledger's
receipts table instead of issuing thousands of signed receipts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow

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
    """Insert synthetic receipt rows directly (no events: reconciliation needs none)."""
    batch = list(rows)
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), batch)
