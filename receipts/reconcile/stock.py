"""Stock reconciliation (核销): every number of every segment accounted for.

For each segment this ledger holds or allocated: issued, reversed, red and unused numbers and
the gaps (numbers below the highest used one without a receipt: none are allowed), from
:func:`receipts.issuing.stock_accounting.usage_report`; and every receipt whose number lies
outside all the segments of its issuer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select

from receipts.issuing.stock_accounting import WriteOffReport, usage_report
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow, Segment

__all__ = ["OutsideSegment", "SegmentCheck", "StockReport", "reconcile_stock"]


@dataclass(frozen=True)
class SegmentCheck:
    """One segment and how its numbers were used."""

    holder: str
    """Who issues from it."""
    allocated_by: str
    """Who allocated it."""
    written_off: bool
    """Closed by a write-off."""
    usage: WriteOffReport
    """Issued, reversed, red, unused numbers and gaps."""

    @property
    def label(self) -> str:
        """``CODE:FIRST-LAST``."""
        return f"{self.usage.code}:{self.usage.first}-{self.usage.last}"


@dataclass(frozen=True)
class OutsideSegment:
    """A receipt whose number lies in no segment of its issuer."""

    code: str
    """Receipt code."""
    number: int
    """Receipt number."""
    issuer: str
    """Its issuer."""
    kind: str
    """``normal`` or ``reversal``."""


@dataclass(frozen=True)
class StockReport:
    """Every segment checked, and the receipts outside any segment."""

    segments: tuple[SegmentCheck, ...]
    """Segments in (code, first) order."""
    outside: tuple[OutsideSegment, ...]
    """Receipts outside their issuer's segments, in (code, number) order."""

    @property
    def discrepancies(self) -> bool:
        """A gap in a segment or a receipt outside the segments."""
        return bool(self.outside) or any(s.usage.gaps for s in self.segments)


def reconcile_stock(db: Database, holder: str | None = None) -> StockReport:
    """Check every segment (only ``holder``'s when given) and look for receipts outside them."""
    with db.read() as session:
        query = select(Segment.id, Segment.holder, Segment.allocated_by, Segment.written_off_at)
        if holder is not None:
            query = query.where(Segment.holder == holder)
        segments = session.execute(query.order_by(Segment.code, Segment.first)).all()
        inside = exists().where(
            Segment.code == ReceiptRow.code,
            Segment.holder == ReceiptRow.issuer,
            ReceiptRow.number.between(Segment.first, Segment.last),
        )
        stray = select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.issuer, ReceiptRow.kind)
        if holder is not None:
            stray = stray.where(ReceiptRow.issuer == holder)
        outside = tuple(
            OutsideSegment(*row)
            for row in session.execute(
                stray.where(~inside).order_by(ReceiptRow.code, ReceiptRow.number)
            )
        )
    checks = tuple(
        SegmentCheck(owner, allocator, closed is not None, usage_report(db, segment_id))
        for segment_id, owner, allocator, closed in segments
    )
    return StockReport(checks, outside)
