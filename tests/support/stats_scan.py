"""The statistics as they were computed before the aggregates (migration 0016): GROUP BY over
``receipts`` and ``receipt_items``, every figure from the rows. Kept as the oracle the
aggregate-based :func:`receipts.stats.figures.ledger_stats` is held against
(``tests/test_stats_aggregates*.py``) and as the baseline of ``bench/stats.py``.

:func:`scan_figures` returns the summary and, per dimension, each key's figures; names and
order are not the oracle's business (the same code makes them on both sides).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from receipts.domain.divisions import NATIONAL
from receipts.domain.enums import ReceiptKind, Tier
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from receipts.stats.figures import Dimension, Figures

__all__ = ["scan_figures"]

_NORMAL = ReceiptKind.NORMAL.value
_RED = ReceiptKind.REVERSAL.value


def scan_figures(
    session: Session,
    period_from: str | None = None,
    period_to: str | None = None,
    by: Iterable[Dimension] = tuple(Dimension),
) -> tuple[Figures, dict[Dimension, dict[str, Figures]]]:
    """The summary and every breakdown ``by`` of the receipts issued from ``period_from`` to
    ``period_to`` (months, inclusive), scanned from the rows."""
    base = _base(period_from, period_to)
    summary = Figures.from_fen(session.execute(select(*_sums(base))).one())
    return summary, {d: _breakdown(session, base, d) for d in by}


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


def _breakdown(session: Session, base: Subquery, dimension: Dimension) -> dict[str, Figures]:
    if dimension in _LINE_KEYS:
        # Each receipt's lines summed per key first, so a receipt counts once under a key.
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
    return {str(row[0]): Figures.from_fen(row[1:]) for row in session.execute(query)}


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
