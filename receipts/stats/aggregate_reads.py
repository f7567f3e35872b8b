"""The statistics read from the aggregates (docs/statistics.md): ``stats_receipts`` for the
summary and the breakdowns by tier, issuer, month of issue, payer kind and status,
``stats_lines`` for those by item and by 所属期. The database triggers keep both in step with
every receipt written (migration 0016), so a year's figures read a few thousand aggregate rows,
never the receipts.

Each aggregate row holds the receipts of one status (``issued``: standing, ``reversed``, ``red``);
:func:`_sums` adds them up into the six sums of :class:`Figures` under the rule of
:mod:`receipts.stats.figures`: issued = standing + reversed, reversed, red. A group whose counts
add up to nothing (every aggregate row of it at zero, left by a red receipt moving its original)
is no group, as the scan of the rows would have found none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, func, literal, literal_column, select
from sqlalchemy.orm import Session

from receipts.domain.divisions import NATIONAL
from receipts.domain.enums import Tier
from receipts.ledger.aggregate_models import StatsLineRow, StatsReceiptRow
from receipts.stats.figure_types import Dimension, Figures

__all__ = ["breakdown_figures", "summary_figures", "tier_of_issuer"]

_LINE_DIMENSIONS = {Dimension.ITEM: "item", Dimension.PERIOD_PAID: "paid"}
_RECEIPT_KEYS: dict[Dimension, Any] = {
    Dimension.TIER: StatsReceiptRow.issuer,  # its tier, below
    Dimension.ISSUER: StatsReceiptRow.issuer,
    Dimension.PERIOD: StatsReceiptRow.period,
    Dimension.PAYER_KIND: StatsReceiptRow.payer_kind,
    Dimension.STATUS: StatsReceiptRow.status,
}


def tier_of_issuer(issuer: Any) -> ColumnElement[str]:
    """The tier the statistics file an issuer under: the national federation, a province
    (``XX0000``), or else a city or county."""

    # Constants written into the SQL, not bound: PostgreSQL must see the GROUP BY expression
    # and the selected one as the same.
    def constant(value: str) -> ColumnElement[str]:
        return literal_column(f"'{value}'", String)

    return case(
        (issuer == constant(NATIONAL), constant(Tier.NATIONAL.value)),
        (func.substr(issuer, 3, 4) == constant("0000"), constant(Tier.PROVINCIAL.value)),
        else_=constant(Tier.CITY.value),
    )


def summary_figures(session: Session, period_from: str | None, period_to: str | None) -> Figures:
    """Every receipt issued in the range."""
    query = _sums(StatsReceiptRow, literal(""), period_from, period_to)
    folded = _figures(session.execute(query.group_by(None)))
    return folded.get("", Figures.from_fen([0] * 6))


def breakdown_figures(
    session: Session, dimension: Dimension, period_from: str | None, period_to: str | None
) -> dict[str, Figures]:
    """Each key's figures of the breakdown by ``dimension``, for the receipts issued in the
    range."""
    if dimension in _LINE_DIMENSIONS:
        query = _sums(StatsLineRow, StatsLineRow.key, period_from, period_to).where(
            StatsLineRow.dimension == _LINE_DIMENSIONS[dimension]
        )
    else:
        key = _RECEIPT_KEYS[dimension]
        if dimension is Dimension.TIER:
            key = tier_of_issuer(key)
        query = _sums(StatsReceiptRow, key, period_from, period_to)
    return _figures(session.execute(query))


def _sums(
    table: type[StatsReceiptRow] | type[StatsLineRow],
    key: Any,
    period_from: str | None,
    period_to: str | None,
) -> Select[Any]:
    """Per ``key``, the six sums of :class:`Figures` (issued = standing + reversed)."""

    def total(statuses: tuple[str, ...], column: Any) -> ColumnElement[Any]:
        return func.sum(case((table.status.in_(statuses), column), else_=0))

    normal = ("issued", "reversed")
    query: Select[Any] = select(
        key.label("key"),
        total(normal, table.receipts),
        total(normal, table.fen),
        total(("reversed",), table.receipts),
        total(("reversed",), table.fen),
        total(("red",), table.receipts),
        total(("red",), table.fen),
    ).group_by(key)
    if period_from is not None:
        query = query.where(table.period >= period_from)
    if period_to is not None:
        query = query.where(table.period <= period_to)
    return query


def _figures(rows: Iterable[Any]) -> dict[str, Figures]:
    """Rows of (key, six sums) as each key's :class:`Figures`, keys without receipts left out."""
    found = {}
    for key, *sums in rows:
        figures = Figures.from_fen(sums)  # PostgreSQL sums are numeric
        if figures.issued_count or figures.red_count:
            found[str(key)] = figures
    return found
