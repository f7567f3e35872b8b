"""Reconciliation against a bank statement: this federation's receipts ↔ bank credits.

The statement's format is documented in :mod:`receipts.reconcile.bank_statement`; the matching
rules in :mod:`receipts.reconcile.bank_matching`. Receipts considered: this federation's normal
receipts issued from the first credit's date minus the window to the last credit's plus the
window (in the workspace's time zone); reversed ones are excluded and reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from receipts.domain.money import from_fen
from receipts.ledger.database import Database
from receipts.ledger.models import ClientReference, ReceiptRow
from receipts.reconcile.bank_matching import (
    Ambiguity,
    BankReceipt,
    BankReport,
    Match,
    match_bank,
)
from receipts.reconcile.bank_statement import (
    STATEMENT_COLUMNS,
    Credit,
    Statement,
    UnusableStatement,
    read_statement,
)

# The statement's and the matching's names are re-exported: this module is where callers start.
__all__ = [
    "STATEMENT_COLUMNS",
    "Ambiguity",
    "BankReceipt",
    "BankReport",
    "Credit",
    "Match",
    "Statement",
    "UnusableStatement",
    "load_receipts",
    "match_bank",
    "read_statement",
    "reconcile_bank",
]


def reconcile_bank(
    db: Database,
    issuer: str,
    zone: ZoneInfo,
    path: Path,
    window_days: int = 7,
    max_group: int = 5,
) -> BankReport:
    """Read the statement at ``path`` and match it with ``issuer``'s receipts in this ledger."""
    statement = read_statement(path)
    if not statement.credits:
        receipts: list[BankReceipt] = []
    else:
        window = timedelta(days=window_days)
        first = min(c.on for c in statement.credits) - window
        last = max(c.on for c in statement.credits) + window
        receipts = list(load_receipts(db, issuer, zone, first, last))
    report = match_bank(receipts, statement.credits, window_days, max_group)
    return dataclasses.replace(report, problems=statement.problems, debits=statement.debits)


def load_receipts(
    db: Database, issuer: str, zone: ZoneInfo, first: date, last: date
) -> Iterator[BankReceipt]:
    """``issuer``'s normal receipts issued from ``first`` to ``last`` (local dates)."""
    red = aliased(ReceiptRow)
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    query = (
        select(
            ReceiptRow.code,
            ReceiptRow.number,
            ReceiptRow.issued_at,
            ReceiptRow.total_fen,
            ReceiptRow.payer_name,
            ReceiptRow.payer_id,
            ClientReference.reference,
            red.code,
            red.number,
        )
        .outerjoin(
            red,
            and_(red.original_code == ReceiptRow.code, red.original_number == ReceiptRow.number),
        )
        .outerjoin(
            ClientReference,
            and_(
                ClientReference.issuer == ReceiptRow.issuer,
                ClientReference.code == ReceiptRow.code,
                ClientReference.number == ReceiptRow.number,
            ),
        )
        .where(
            ReceiptRow.issuer == issuer,
            ReceiptRow.kind == "normal",
            ReceiptRow.issued_at >= start,
            ReceiptRow.issued_at < end,
        )
        .order_by(ReceiptRow.code, ReceiptRow.number)
    )
    with db.read() as session:
        for code, number, at, fen, name, payer_id, ref, red_code, red_no in session.execute(query):
            reversed_by = None if red_code is None else f"{red_code}-{red_no:010d}"
            local = at.astimezone(zone).date()
            yield BankReceipt(code, number, local, from_fen(fen), name, payer_id, ref, reversed_by)
