"""Statistics of a ledger (统计分析): counts and amounts by tier, issuer, period, item, payer kind
and status, in integer fen, read from the aggregates the database keeps on every write
(:mod:`receipts.stats.aggregate_reads`, docs/statistics.md), never from a scan of the receipts.

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
from collections.abc import Iterable

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from receipts.domain.catalogue import Catalogue
from receipts.domain.divisions import known_federation
from receipts.domain.enums import PayerKind, Tier
from receipts.domain.payment_period import parse_payment_period
from receipts.errors import InvalidInput, ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState, OrganisationRow, ReceiptItemRow, ReceiptRow
from receipts.stats.aggregate_reads import breakdown_figures, summary_figures
from receipts.stats.figure_types import (
    KEY_NAMES,
    STATUSES,
    Breakdown,
    Dimension,
    Figures,
    LedgerStats,
    StatsRow,
)

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
    with db.read() as session:
        ledger = session.scalars(select(LedgerState.org_code)).one()
        summary = summary_figures(session, period_from, period_to)
        breakdowns = tuple(
            _breakdown(session, Dimension(d), period_from, period_to, catalogue)
            for d in dict.fromkeys(by)
        )
    return LedgerStats(ledger, period_from, period_to, summary, breakdowns)


def _breakdown(
    session: Session,
    dimension: Dimension,
    period_from: str | None,
    period_to: str | None,
    catalogue: Catalogue,
) -> Breakdown:
    found = breakdown_figures(session, dimension, period_from, period_to)
    names = _names(session, dimension, list(found), catalogue)
    rows = tuple(
        StatsRow(key, names.get(key, ""), found[key]) for key in _ordered(dimension, found)
    )
    return Breakdown(dimension, rows)


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
        # The whole registry (a few thousand rows at most) rather than thousands of parameters.
        registry = session.execute(select(OrganisationRow.code, OrganisationRow.name))
        wanted = set(keys)
        names = {code: name for code, name in registry if code in wanted}
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
