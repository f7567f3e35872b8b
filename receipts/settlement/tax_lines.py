"""Tax-collected income in a settlement statement (docs/settlement.md, "Tax-collected income"):
the federation's tax records (税务代收) of the month, each with its stored shares, listed in the
signed statement beside the receipts and added to its totals; the tier above recomputes each
line's shares under its own sharing table.

The month of a tax record is its collection month (docs/tax.md "Income and settlement"). The
totals follow ``receipts.tax.income.tax_totals`` (each record one of the federation's own
receipts); that module sits above this layer, so the sum is made here from the same rows and a
test holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import from_fen
from receipts.domain.sharing import PARTY_ORDER, Party, SharingRules
from receipts.issuing.tax_check import tax_record_shares
from receipts.ledger.models import TaxCollectionRow
from receipts.settlement.shares import Totals, own_totals, period_totals

__all__ = [
    "StatementTax",
    "add_totals",
    "period_tax_lines",
    "recomputed_line",
    "settled_totals",
    "tax_lines_totals",
    "tax_months",
]


@dataclass(frozen=True)
class StatementTax:
    """One tax record of a statement: its amount and each party's share, in fen."""

    voucher: str
    payer: str
    """The payer's USCC."""
    period: str
    """所属期, canonical."""
    item: str
    collected_on: date
    amount: int
    shares: dict[Party, int]


def _month(period: str) -> tuple[date, date]:
    year, month = int(period[:4]), int(period[5:7])
    after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date(year, month, 1), after


def period_tax_lines(session: Session, federation: str, period: str) -> list[StatementTax]:
    """``federation``'s tax records collected in the month ``period`` (``YYYY-MM``)."""
    start, end = _month(period)
    rows = session.scalars(
        select(TaxCollectionRow)
        .where(
            TaxCollectionRow.issuer == federation,
            TaxCollectionRow.collected_on >= start,
            TaxCollectionRow.collected_on < end,
        )
        .order_by(TaxCollectionRow.voucher)
    )
    return [
        StatementTax(
            r.voucher,
            r.uscc,
            r.period,
            r.item_code,
            r.collected_on,
            r.amount_fen,
            {p: int(getattr(r, f"{p.value}_fen")) for p in PARTY_ORDER},
        )
        for r in rows
    ]


def recomputed_line(line: StatementTax, rules: SharingRules, federation: str) -> StatementTax:
    """``line`` with its shares recomputed under ``rules`` (the tier above's table in force)."""
    shares = tax_record_shares(
        from_fen(line.amount), line.item, line.collected_on, rules, federation
    )
    return StatementTax(
        line.voucher, line.payer, line.period, line.item, line.collected_on, line.amount, shares
    )


def tax_lines_totals(lines: list[StatementTax], federation: str) -> Totals:
    """What ``lines`` add to ``federation``'s settlement, each counted as one of its own
    receipts (as ``receipts.tax.income.tax_totals``)."""
    return own_totals((pair for line in lines for pair in line.shares.items()), federation)


def add_totals(a: Totals, b: Totals) -> Totals:
    """The two settlements' figures added."""
    return Totals(
        a.upward + b.upward,
        a.grassroots + b.grassroots,
        a.downward + b.downward,
        a.retained + b.retained,
        a.income + b.income,
    )


def settled_totals(
    session: Session, federation: str, period: str, taxes: list[StatementTax] | None = None
) -> Totals:
    """What ``federation`` settles for ``period``: its receipts' shares (``period_totals``) and
    its tax records' (``taxes``, read when not given), the figures of its statement and of
    ``settle balance`` alike."""
    lines = period_tax_lines(session, federation, period) if taxes is None else taxes
    return add_totals(
        period_totals(session, federation, period), tax_lines_totals(lines, federation)
    )


def tax_months(session: Session, federation: str) -> set[str]:
    """The months (``YYYY-MM``) in which ``federation`` collected tax records."""
    days = session.scalars(
        select(TaxCollectionRow.collected_on)
        .where(TaxCollectionRow.issuer == federation)
        .distinct()
    )
    return {f"{day.year:04d}-{day.month:02d}" for day in days}
