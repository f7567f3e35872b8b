"""Arrears (欠缴) and collection rate (收缴率) of the register's payers (docs/arrears.md).

For each registered payer and each of its current wage declarations (所属期 P, wage bill W):

- **expected** = W × the item's configured rate (2 % for 工会经费 by default), rounded half up
  to the fen (:func:`receipts.issuing.payer_wages.expected_fen`);
- **paid** = the lines of that item on receipts in this ledger to the payer's USCC whose 所属期
  lies within P, net of red receipts (a red receipt's lines are negative and carry its
  original's 所属期), whichever federation issued them: at a province, its cities' receipts
  held from transmission count too;
- **arrears** = expected − paid (negative: paid more than expected).

A payer with no declaration for a period is listed as *undeclared* with what it paid, never as
zero arrears. Receipt lines whose 所属期 lies within no declaration of the payer (a quarter paid
against monthly declarations, say) are listed on their own as undeclared, not split.

Each row is attributed to an issuer: the federation that issued the latest normal receipt
counted in it, else the one that issued the payer's latest normal receipt of the item, else
this ledger's owner (the federation keeping the register). Its tier is that issuer's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import and_, func, select

from receipts.domain.catalogue import validate_item_code
from receipts.domain.divisions import tier_of, validate_division_code
from receipts.domain.enums import ReceiptKind, Tier
from receipts.domain.finance_rules import FinanceRules
from receipts.domain.money import from_fen, to_fen
from receipts.domain.payment_period import PaymentPeriod, add_months, parse_payment_period
from receipts.errors import InvalidInput
from receipts.issuing.payer_wages import (
    DeclarationRecord,
    current_declarations,
    expected_fen,
    item_rate,
    stored_period,
)
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState, PayerRow, ReceiptItemRow, ReceiptRow

__all__ = [
    "UNDECLARED",
    "ArrearsReport",
    "ArrearsRow",
    "CollectionGroup",
    "GroupBy",
    "arrears_report",
    "collection_rate",
    "rate_percent",
]

UNDECLARED = "undeclared"
"""The status of a row without a declaration (``declared`` otherwise)."""

_PERCENT = Decimal("0.01")


def rate_percent(paid_fen: int, expected_fen: int) -> Decimal | None:
    """paid ÷ expected as a percentage rounded half up to two decimals (87.5 % → ``87.50``);
    None when nothing was expected (a zero wage bill)."""
    if expected_fen == 0:
        return None
    return (Decimal(paid_fen) * 100 / Decimal(expected_fen)).quantize(
        _PERCENT, rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True)
class ArrearsRow:
    """One payer and 所属期: what it declared, was expected to pay and paid."""

    uscc: str
    name: str
    """The payer's current name in the register."""
    item: str
    period: str
    """所属期 (canonical); "" for a payer that never declared nor paid."""
    issuer: str
    """The federation the row is attributed to (see the module's docstring)."""
    tier: str
    wage: Decimal | None
    """Declared wage bill; None when undeclared."""
    expected: Decimal | None
    paid: Decimal
    arrears: Decimal | None
    """expected − paid; None when undeclared."""
    rate: Decimal | None
    """Collection rate in percent (two decimals); None when undeclared or nothing expected."""

    @property
    def status(self) -> str:
        """``declared`` or ``undeclared``."""
        return "declared" if self.wage is not None else UNDECLARED


@dataclass(frozen=True)
class ArrearsReport:
    """The rows of one ledger for one item."""

    ledger: str
    item: str
    rate: Decimal
    """The configured rate the expected amounts were computed with."""
    period: str | None
    """The 所属期 asked for (rows within it), None for all."""
    rows: tuple[ArrearsRow, ...]


class GroupBy(StrEnum):
    """What the collection rate is grouped by."""

    ISSUER = "issuer"
    TIER = "tier"
    PERIOD = "period"


@dataclass(frozen=True)
class CollectionGroup:
    """The collection rate of a group of rows."""

    key: str
    declared: int
    """Declared payer-periods in the group."""
    expected: Decimal
    paid: Decimal
    """Paid against declarations (undeclared payments are in ``undeclared_paid``)."""
    arrears: Decimal
    """Sum of the shortfalls (expected − paid where positive): one payer's overpayment never
    offsets another's arrears."""
    overpaid: Decimal
    """Sum of the excesses (paid − expected where positive)."""
    rate: Decimal | None
    """paid ÷ expected in percent, two decimals (over 100 when overpaid); None when nothing
    was expected."""
    undeclared: int
    """Undeclared rows in the group."""
    undeclared_paid: Decimal


@dataclass
class _Line:
    """The lines of one payer's receipts of one issuer and kind for one 所属期, summed."""

    period: PaymentPeriod
    fen: int
    issuer: str
    issued_at: datetime
    """When the latest of those receipts was issued."""
    normal: bool


def _within(inner: PaymentPeriod, outer: PaymentPeriod) -> bool:
    return outer.first_month <= inner.first_month and inner.last_month <= outer.last_month


@lru_cache(maxsize=1024)
def _tier(issuer: str) -> str:
    return tier_of(issuer).value


def _months(period: PaymentPeriod) -> list[date]:
    """Day 1 of each month of ``period``."""
    return [add_months(period.first_month, k) for k in range(period.months)]


def _latest_issuer(lines: Iterable[_Line]) -> str | None:
    normal = [line for line in lines if line.normal]
    return max(normal, key=lambda x: (x.issued_at, x.issuer)).issuer if normal else None


def arrears_report(
    db: Database,
    rules: FinanceRules,
    *,
    item: str = "01",
    period: str | None = None,
    issuer: str | None = None,
) -> ArrearsReport:
    """Every registered payer's rows for ``item`` (within the 所属期 ``period`` and of
    ``issuer`` when given), by USCC then period."""
    rate = item_rate(rules, validate_item_code(item))
    if issuer is not None:
        validate_division_code(issuer, what="--issuer")
    within = None if period is None else parse_payment_period(period, what="--period")
    with db.read() as session:
        owner = session.scalars(select(LedgerState.org_code)).one()
        names = {u: n for u, n in session.execute(select(PayerRow.uscc, PayerRow.name))}
        declared: dict[str, list[DeclarationRecord]] = defaultdict(list)
        for record in current_declarations(session):
            declared[record.uscc].append(record)
        # Summed in SQL per payer, 所属期, issuer and kind: the rows that reach Python are as
        # many as a payer has periods and issuers, not as many as it has receipts.
        query = (
            select(
                ReceiptRow.payer_id,
                ReceiptRow.issuer,
                ReceiptRow.kind,
                func.max(ReceiptRow.issued_at),
                ReceiptItemRow.item_period,
                func.sum(ReceiptItemRow.amount_fen),
            )
            .join(
                ReceiptItemRow,
                and_(
                    ReceiptItemRow.code == ReceiptRow.code,
                    ReceiptItemRow.number == ReceiptRow.number,
                ),
            )
            .join(PayerRow, PayerRow.uscc == ReceiptRow.payer_id)
            .where(ReceiptItemRow.item_code == item)
            .group_by(
                ReceiptRow.payer_id, ReceiptRow.issuer, ReceiptRow.kind, ReceiptItemRow.item_period
            )
        )
        lines: dict[str, list[_Line]] = defaultdict(list)
        for uscc, by, kind, at, line_period, fen in session.execute(query):
            normal = kind == ReceiptKind.NORMAL.value
            lines[str(uscc)].append(_Line(stored_period(line_period), int(fen), by, at, normal))
    rows: list[ArrearsRow] = []
    for uscc in sorted(names):
        rows += _payer_rows(
            uscc, names[uscc], item, rate, declared[uscc], lines[uscc], within, owner
        )
    if issuer is not None:
        rows = [r for r in rows if r.issuer == issuer]
    return ArrearsReport(owner, item, rate, None if within is None else within.text, tuple(rows))


def _payer_rows(
    uscc: str,
    name: str,
    item: str,
    rate: Decimal,
    declarations: list[DeclarationRecord],
    lines: list[_Line],
    within: PaymentPeriod | None,
    owner: str,
) -> list[ArrearsRow]:
    fallback = _latest_issuer(lines) or owner

    def row(
        period: str, wage_fen: int | None, matched: list[_Line], issuer: str | None = None
    ) -> ArrearsRow:
        by = issuer or _latest_issuer(matched) or fallback
        paid = sum(line.fen for line in matched)
        expected = None if wage_fen is None else expected_fen(wage_fen, rate)
        return ArrearsRow(
            uscc,
            name,
            item,
            period,
            by,
            _tier(by),
            None if wage_fen is None else from_fen(wage_fen),
            None if expected is None else from_fen(expected),
            from_fen(paid),
            None if expected is None else from_fen(expected - paid),
            None if expected is None else rate_percent(paid, expected),
        )

    out: list[ArrearsRow] = []
    periods = [stored_period(record.period) for record in declarations]
    # One payer's declarations never overlap, so each month belongs to at most one of them: a
    # line lies within declaration n when its first and last months both belong to n.
    owner_of: dict[date, int] = {}
    for n, declared_period in enumerate(periods):
        for month in _months(declared_period):
            owner_of[month] = n
    matched: dict[int, list[_Line]] = defaultdict(list)
    groups: dict[PaymentPeriod, list[_Line]] = defaultdict(list)
    for line in lines:
        n = owner_of.get(line.period.first_month, -1)
        if n >= 0 and owner_of.get(line.period.last_month) == n:
            matched[n].append(line)
        elif within is None or _within(line.period, within):
            groups[line.period].append(line)
    for n, (record, declared_period) in enumerate(zip(declarations, periods, strict=True)):
        if within is None or _within(declared_period, within):
            out.append(row(record.period, to_fen(record.wage), matched[n]))
    for period in sorted(groups):
        out.append(row(period.text, None, groups[period]))
    if not out and (within is not None or not declarations):
        out.append(row("" if within is None else within.text, None, []))
    return out


def collection_rate(report: ArrearsReport, by: GroupBy) -> list[CollectionGroup]:
    """The report's rows grouped ``by`` issuer, tier or 所属期, with a last group ``total``."""
    groups: dict[str, list[ArrearsRow]] = defaultdict(list)
    for row in report.rows:
        groups[_key(row, by)].append(row)
    keys = sorted(groups, key=lambda k: _order(k, by))
    out = [_group(k, groups[k]) for k in keys]
    out.append(_group("total", list(report.rows)))
    return out


def _key(row: ArrearsRow, by: GroupBy) -> str:
    if by is GroupBy.ISSUER:
        return row.issuer
    if by is GroupBy.TIER:
        return row.tier
    return row.period or UNDECLARED


def _order(key: str, by: GroupBy) -> tuple[int, str, str]:
    if by is GroupBy.PERIOD:
        try:
            period = parse_payment_period(key)
        except InvalidInput:
            return (1, "", key)
        return (0, f"{period.first_month}{period.last_month}", key)
    if by is GroupBy.TIER:
        order = [t.value for t in Tier]
        return (order.index(key) if key in order else len(order), "", key)
    return (0, "", key)


def _group(key: str, rows: list[ArrearsRow]) -> CollectionGroup:
    declared = [r for r in rows if r.expected is not None]
    expected = sum(to_fen(r.expected) for r in declared if r.expected is not None)
    paid = sum(to_fen(r.paid) for r in declared)
    diffs = [to_fen(r.arrears) for r in declared if r.arrears is not None]
    undeclared = [r for r in rows if r.expected is None]
    return CollectionGroup(
        key,
        len(declared),
        from_fen(expected),
        from_fen(paid),
        from_fen(sum(d for d in diffs if d > 0)),
        from_fen(-sum(d for d in diffs if d < 0)),
        rate_percent(paid, expected),
        len(undeclared),
        from_fen(sum(to_fen(r.paid) for r in undeclared)),
    )
