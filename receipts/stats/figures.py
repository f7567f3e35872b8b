"""Statistics of a ledger (统计分析): counts and amounts by tier, issuer, period, item, payer kind
and status, grouped and summed in SQL as integer fen.

How red receipts count (the one rule every figure follows, so that every table reconciles):

- ``issued``: normal receipts, gross, whether or not they were reversed later.
- ``reversed``: those of the ``issued`` receipts that a red receipt has cancelled (as of now,
  whenever the red receipt was issued). Already part of ``issued``: never add it again.
- ``red``: red (reversal) receipts; their amounts are negative.
- ``net = issued + red``: a red receipt counts in its own month, the month it was issued, not
  in its original's, so the net of a closed month never changes (its ``reversed`` may).

Every receipt falls in exactly one row of each breakdown (a red receipt carries its original's
issuer and payer), so the rows of a breakdown add up to the summary. Over a whole ledger, when
every red receipt's original is in it, ``net = issued - reversed``. Only the item breakdown
overlaps: it sums receipt lines, so its amounts add up to the summary, but a receipt with lines
of two items counts once under each; so does ``period-paid``, by 所属期 (the period an item
pays for: a month, quarter, range or year; a red receipt's lines carry its original's). The
status breakdown puts each receipt under ``issued`` (a normal receipt still standing),
``reversed`` or ``red``; archiving and booking are not statuses here. ``period`` is the month
of issue in the issuer's calendar (``--from``/``--to`` filter on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from receipts.domain.catalogue import Catalogue
from receipts.domain.divisions import NATIONAL, known_federation
from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.money import from_fen
from receipts.domain.payment_period import parse_payment_period
from receipts.errors import InvalidInput, ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState, OrganisationRow, ReceiptItemRow, ReceiptRow

__all__ = [
    "KEY_NAMES",
    "STATUSES",
    "Breakdown",
    "Dimension",
    "Figures",
    "LedgerStats",
    "StatsRow",
    "ledger_stats",
    "validate_month",
]

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_NORMAL = ReceiptKind.NORMAL.value
_RED = ReceiptKind.REVERSAL.value


class Dimension(StrEnum):
    """What a breakdown groups by (the values of ``receipts stats --by``)."""

    TIER = "tier"
    ISSUER = "issuer"
    PERIOD = "period"
    ITEM = "item"
    PAYER_KIND = "payer-kind"
    STATUS = "status"
    PERIOD_PAID = "period-paid"
    """所属期: the period an item pays for, beside ``period``, the month of issue."""


#: Statuses of the status breakdown: a normal receipt still standing, one reversed, a red one.
STATUSES = ("issued", "reversed", "red")

#: Readable names of the keys that have no name of their own.
KEY_NAMES: dict[Dimension, dict[str, str]] = {
    Dimension.TIER: {
        Tier.NATIONAL.value: "全国总工会",
        Tier.PROVINCIAL.value: "省级总工会",
        Tier.CITY.value: "市、县(区)总工会",
    },
    Dimension.PAYER_KIND: {
        PayerKind.ENTERPRISE.value: "企业",
        PayerKind.GRASSROOTS_UNION.value: "基层工会",
        PayerKind.FEDERATION.value: "工会组织",
        PayerKind.INDIVIDUAL.value: "个人",
        PayerKind.OTHER.value: "其他",
    },
    Dimension.STATUS: {"issued": "正常", "reversed": "已冲红", "red": "红字收据"},
}


@dataclass(frozen=True)
class Figures:
    """Counts and amounts (yuan) of one group of receipts, under the module's red-receipt rule."""

    issued_count: int
    """Normal receipts issued (gross, reversed ones included)."""
    issued: Decimal
    """Their amount."""
    reversed_count: int
    """Of the issued receipts, those a red receipt cancelled (a subset, not an addition)."""
    reversed: Decimal
    """Their amount (positive)."""
    red_count: int
    """Red (reversal) receipts."""
    red: Decimal
    """Their amount (negative)."""

    @property
    def net(self) -> Decimal:
        """``issued + red``: what the group's receipts add up to."""
        return self.issued + self.red

    @classmethod
    def from_fen(cls, values: Sequence[Any]) -> Figures:
        """From the six SQL sums, in field order (PostgreSQL returns ``numeric`` sums)."""
        ints = [int(v or 0) for v in values]
        return cls(
            ints[0], from_fen(ints[1]), ints[2], from_fen(ints[3]), ints[4], from_fen(ints[5])
        )


@dataclass(frozen=True)
class StatsRow:
    """One row of a breakdown."""

    key: str
    """What the row groups by: a tier, an org code, ``YYYY-MM``, an item code, a payer kind,
    a status, a 所属期 (``2026-10``, ``2026Q4``, ``2026-01~2026-06``, ``2026``)."""
    name: str
    """A readable name: the issuer's or item's name (empty where the key says it all)."""
    figures: Figures
    """Its counts and amounts."""


@dataclass(frozen=True)
class Breakdown:
    """The receipts grouped by one dimension, in a natural order."""

    dimension: Dimension
    """What they are grouped by."""
    rows: tuple[StatsRow, ...]
    """One row per group that has receipts."""


@dataclass(frozen=True)
class LedgerStats:
    """The statistics of one ledger over a range of months."""

    ledger: str
    """The org code of the ledger's owner."""
    period_from: str | None
    """First month included (``YYYY-MM``), None for no lower bound."""
    period_to: str | None
    """Last month included, None for no upper bound."""
    summary: Figures
    """All receipts in the range."""
    breakdowns: tuple[Breakdown, ...]
    """The breakdowns asked for, in the order asked."""

    def breakdown(self, dimension: Dimension) -> Breakdown:
        """The breakdown by ``dimension`` (a KeyError when it was not asked for)."""
        for breakdown in self.breakdowns:
            if breakdown.dimension is dimension:
                return breakdown
        raise KeyError(dimension.value)


def validate_month(value: str, *, what: str = "month") -> str:
    """``value`` if it is a month ``YYYY-MM``, else an input error."""
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise InvalidInput(f"{what} {value!r} must be a month YYYY-MM")
    return value


def ledger_stats(
    db: Database,
    *,
    period_from: str | None = None,
    period_to: str | None = None,
    by: Iterable[Dimension] = tuple(Dimension),
    catalogue: Catalogue | None = None,
) -> LedgerStats:
    """Statistics of the receipts in ``db`` issued from ``period_from`` to ``period_to``
    (months, inclusive), broken down ``by`` each dimension. ``catalogue`` names items (the
    default catalogue when None; a code it lacks is named from a stored receipt)."""
    if period_from is not None:
        validate_month(period_from, what="--from")
    if period_to is not None:
        validate_month(period_to, what="--to")
    if period_from and period_to and period_from > period_to:
        raise InvalidInput(f"--from {period_from} is after --to {period_to}")
    catalogue = catalogue or Catalogue()
    base = _base(period_from, period_to)
    with db.read() as session:
        ledger = session.scalars(select(LedgerState.org_code)).one()
        summary = Figures.from_fen(session.execute(select(*_sums(base))).one())
        breakdowns = tuple(
            _breakdown(session, base, Dimension(d), catalogue) for d in dict.fromkeys(by)
        )
    return LedgerStats(ledger, period_from, period_to, summary, breakdowns)


def _base(period_from: str | None, period_to: str | None) -> Subquery:
    """One row per receipt in the range, with its tier, status and a reversed flag."""
    red = aliased(ReceiptRow)
    is_reversed = exists().where(
        red.original_code == ReceiptRow.code,
        red.original_number == ReceiptRow.number,
        red.kind == _RED,
    )
    tier = case(
        (ReceiptRow.issuer == NATIONAL, literal(Tier.NATIONAL.value)),
        (func.substr(ReceiptRow.issuer, 3, 4) == "0000", literal(Tier.PROVINCIAL.value)),
        else_=literal(Tier.CITY.value),
    )
    reversed_flag = case((and_(ReceiptRow.kind == _NORMAL, is_reversed), 1), else_=0)
    status = case(
        (ReceiptRow.kind == _RED, literal("red")),
        (is_reversed, literal("reversed")),
        else_=literal("issued"),
    )
    query = select(
        ReceiptRow.code,
        ReceiptRow.number,
        ReceiptRow.kind,
        ReceiptRow.issuer,
        ReceiptRow.period,
        ReceiptRow.payer_kind,
        ReceiptRow.total_fen.label("fen"),
        reversed_flag.label("rev"),
        tier.label("tier"),
        status.label("status"),
    )
    if period_from is not None:
        query = query.where(ReceiptRow.period >= period_from)
    if period_to is not None:
        query = query.where(ReceiptRow.period <= period_to)
    return query.subquery("r")


def _sums(rows: Subquery) -> list[ColumnElement[Any]]:
    """The six integer sums of :class:`Figures` over ``rows`` (columns kind, rev, fen)."""
    normal = rows.c.kind == _NORMAL
    red = rows.c.kind == _RED
    reversed_ = and_(normal, rows.c.rev == 1)

    def total(expression: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(expression), 0)

    return [
        total(case((normal, 1), else_=0)),
        total(case((normal, rows.c.fen), else_=0)),
        total(case((reversed_, 1), else_=0)),
        total(case((reversed_, rows.c.fen), else_=0)),
        total(case((red, 1), else_=0)),
        total(case((red, rows.c.fen), else_=0)),
    ]


def _breakdown(
    session: Session, base: Subquery, dimension: Dimension, catalogue: Catalogue
) -> Breakdown:
    if dimension in _LINE_KEYS:
        # Sum each receipt's lines per key first, so a receipt counts once under an item (or a
        # 所属期).
        line_key = _LINE_KEYS[dimension]
        lines = (
            select(
                base.c.kind,
                base.c.rev,
                line_key.label("key"),
                func.sum(ReceiptItemRow.amount_fen).label("fen"),
            )
            .join(
                ReceiptItemRow,
                and_(ReceiptItemRow.code == base.c.code, ReceiptItemRow.number == base.c.number),
            )
            .group_by(base.c.code, base.c.number, base.c.kind, base.c.rev, line_key)
            .subquery("lines")
        )
        query: Select[Any] = select(lines.c.key, *_sums(lines)).group_by(lines.c.key)
    else:
        column = base.c[_COLUMNS[dimension]]
        query = select(column.label("key"), *_sums(base)).group_by(column)
    found = {str(row[0]): Figures.from_fen(row[1:]) for row in session.execute(query)}
    names = _names(session, dimension, list(found), catalogue)
    rows = tuple(
        StatsRow(key, names.get(key, ""), found[key]) for key in _ordered(dimension, found)
    )
    return Breakdown(dimension, rows)


_LINE_KEYS: dict[Dimension, Any] = {
    Dimension.ITEM: ReceiptItemRow.item_code,
    Dimension.PERIOD_PAID: ReceiptItemRow.item_period,
}
_COLUMNS = {
    Dimension.TIER: "tier",
    Dimension.ISSUER: "issuer",
    Dimension.PERIOD: "period",
    Dimension.PAYER_KIND: "payer_kind",
    Dimension.STATUS: "status",
}


def _ordered(dimension: Dimension, keys: Iterable[str]) -> list[str]:
    """Tiers top down, payer kinds and statuses in their defined order, 所属期 by first then last
    month, the rest by key."""
    if dimension is Dimension.PERIOD_PAID:
        return sorted(keys, key=_paid_order)
    order: tuple[str, ...] = ()
    if dimension is Dimension.TIER:
        order = tuple(t.value for t in Tier)
    elif dimension is Dimension.PAYER_KIND:
        order = tuple(k.value for k in PayerKind)
    elif dimension is Dimension.STATUS:
        order = STATUSES
    rank = {key: n for n, key in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def _names(
    session: Session, dimension: Dimension, keys: list[str], catalogue: Catalogue
) -> dict[str, str]:
    """Names of issuers (registry, then the shipped list) and items (catalogue, then a
    stored receipt, for an item a child federation added to its own catalogue)."""
    names = dict(KEY_NAMES.get(dimension, {}))
    if dimension is Dimension.ISSUER and keys:
        query = select(OrganisationRow.code, OrganisationRow.name)
        names = {
            code: name
            for code, name in session.execute(query.where(OrganisationRow.code.in_(keys)))
        }
        for code in keys:
            known = known_federation(code) if code not in names else None
            if known is not None:
                names[code] = known.name
    elif dimension is Dimension.PERIOD_PAID:
        names = {key: _paid_name(key) for key in keys}
    elif dimension is Dimension.ITEM:
        for code in keys:
            name = catalogue.items.get(code)
            names[code] = name if name is not None else _item_name_from_receipt(session, code)
    return names


def _item_name_from_receipt(session: Session, item_code: str) -> str:
    """The name of ``item_code`` as a stored receipt prints it ("" if none can be read)."""
    from receipts.domain.xmlcodec import parse_receipt_xml

    xml = session.scalars(
        select(ReceiptRow.xml)
        .join(
            ReceiptItemRow,
            and_(
                ReceiptItemRow.code == ReceiptRow.code, ReceiptItemRow.number == ReceiptRow.number
            ),
        )
        .where(ReceiptItemRow.item_code == item_code)
        .limit(1)
    ).first()
    if xml is None:
        return ""
    try:
        receipt = parse_receipt_xml(xml)
    except ReceiptError:  # a damaged receipt is for ``receipts audit`` to report, not stats
        return ""
    return next((item.name for item in receipt.items if item.code == item_code), "")


def _paid_order(key: str) -> tuple[int, str, str, str]:
    try:
        period = parse_payment_period(key)
    except InvalidInput:  # a damaged row is for ``receipts audit``; list it last
        return (1, "", "", key)
    return (0, period.first_month.isoformat(), period.last_month.isoformat(), key)


def _paid_name(key: str) -> str:
    """所属期 in words: 2026年10月, 2026年第4季度, 2026年1月至2026年6月, 2026年度."""
    try:
        period = parse_payment_period(key)
    except InvalidInput:
        return ""
    first, last = period.first_month, period.last_month
    if "Q" in period.text:
        return f"{first.year}年第{(first.month + 2) // 3}季度"
    if "-" not in period.text:
        return f"{first.year}年度"
    if first == last:
        return f"{first.year}年{first.month}月"
    return f"{first.year}年{first.month}月至{last.year}年{last.month}月"
