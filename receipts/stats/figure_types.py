"""The statistics' types (:mod:`receipts.stats.figures` says how red receipts count): the
dimensions of a breakdown, the figures of a group, the rows, breakdowns and whole statistics,
apart from the queries so that both ways of computing them share these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from receipts.domain.enums import PayerKind, Tier
from receipts.domain.money import from_fen

__all__ = [
    "KEY_NAMES",
    "STATUSES",
    "Breakdown",
    "Dimension",
    "Figures",
    "LedgerStats",
    "StatsRow",
]


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
