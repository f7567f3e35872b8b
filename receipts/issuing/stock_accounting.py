"""Accounting for the numbers of receipt stock a federation holds: taking the next numbers to
issue, used and free counts per segment, and write-off (核销), which accounts for every number.

Numbers are taken gaplessly inside the ledger's write transaction, so a rollback returns them
(docs/architecture.md). Which segments a federation holds is settled by
:mod:`receipts.issuing.stock_allocation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.errors import InvalidInput, StockExhausted
from receipts.issuing.stock_allocation import owner_of_code
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import NumberCounter, ReceiptRow, Segment

__all__ = [
    "SegmentUsage",
    "WriteOffReport",
    "segment_usage",
    "take_numbers",
    "usage_in",
    "usage_report",
    "write_off",
]


@dataclass(frozen=True)
class SegmentUsage:
    """How much of a segment is used."""

    code: str
    """Receipt code."""
    first: int
    """First number."""
    last: int
    """Last number."""
    holder: str
    """Who issues from it."""
    allocated_by: str
    """Who allocated it."""
    issued: int
    """Receipts issued from it (red receipts included)."""
    written_off: bool
    """Closed by a write-off."""

    @property
    def free(self) -> int:
        """Numbers not yet used (0 once written off)."""
        return 0 if self.written_off else self.last - self.first + 1 - self.issued


def take_numbers(session: Session, issuer: str, code: str, count: int) -> list[int]:
    """Take the next ``count`` numbers of ``code`` from ``issuer``'s open segments, in order.

    Must run inside :meth:`Database.write` (the lock makes it gapless and duplicate-free); a
    rollback returns the numbers, so a crash never leaves a gap.
    """
    counter = session.get(NumberCounter, (issuer, code))
    last_taken = counter.last_number if counter else 0
    segments = session.scalars(
        select(Segment)
        .where(
            Segment.holder == issuer,
            Segment.code == code,
            Segment.last > last_taken,
            Segment.written_off_at.is_(None),
        )
        .order_by(Segment.first)
    ).all()
    numbers: list[int] = []
    for segment in segments:
        start = max(segment.first, last_taken + 1)
        take = min(count - len(numbers), segment.last - start + 1)
        numbers.extend(range(start, start + take))
        if len(numbers) == count:
            break
    if len(numbers) < count:
        free = len(numbers)
        raise StockExhausted(
            f"{issuer} has {free} free number(s) under code {code}, {count} needed; "
            f"ask {owner_of_code(code)} for a new segment (receipts stock allocate)"
        )
    if counter is None:
        session.add(NumberCounter(issuer=issuer, code=code, last_number=numbers[-1]))
    else:
        counter.last_number = numbers[-1]
    return numbers


def segment_usage(db: Database, holder: str | None = None) -> list[SegmentUsage]:
    """Every segment this ledger knows (optionally one holder's) with used and free counts."""
    with db.read() as session:
        query = select(Segment).order_by(Segment.code, Segment.first)
        if holder is not None:
            query = query.where(Segment.holder == holder)
        out = []
        for seg in session.scalars(query):
            issued = (
                session.scalar(
                    select(func.count())
                    .select_from(ReceiptRow)
                    .where(
                        ReceiptRow.code == seg.code,
                        ReceiptRow.number.between(seg.first, seg.last),
                        ReceiptRow.issuer == seg.holder,
                    )
                )
                or 0
            )
            out.append(
                SegmentUsage(
                    seg.code,
                    seg.first,
                    seg.last,
                    seg.holder,
                    seg.allocated_by,
                    issued,
                    seg.written_off_at is not None,
                )
            )
        return out


@dataclass(frozen=True)
class WriteOffReport:
    """核销: how every number of a segment was used."""

    code: str
    """Receipt code."""
    first: int
    """First number."""
    last: int
    """Last number."""
    issued: int
    """Normal receipts issued from it."""
    reversed: int
    """Of those, how many were reversed (by red receipts from any segment)."""
    red: int
    """Red receipts issued from it."""
    unused: int
    """Numbers never used (void from the write-off on)."""
    gaps: tuple[int, ...]
    """Numbers below the highest used one that have no receipt: must be empty."""


def write_off(
    db: Database, holder: str, code: str, first: int, last: int, signer: HeadSigner | None
) -> WriteOffReport:
    """Close the segment ``code:first-last`` held by ``holder``, accounting for every number.

    A gap (a number below the highest issued one without a receipt) refuses the write-off.
    """
    with db.write() as (session, state):
        segment = session.scalars(
            select(Segment).where(
                Segment.code == code,
                Segment.first == first,
                Segment.last == last,
                Segment.holder == holder,
            )
        ).first()
        if segment is None:
            raise InvalidInput(f"{holder} holds no segment {code}:{first}-{last}")
        if segment.written_off_at is not None:
            raise InvalidInput(f"segment {code}:{first}-{last} was written off already")
        report = _usage_report(session, segment)
        if report.gaps:
            shown = ", ".join(str(n) for n in report.gaps[:10])
            raise InvalidInput(
                f"segment {code}:{first}-{last} has {len(report.gaps)} gap(s): {shown}"
            )
        moment = datetime.now(UTC).replace(microsecond=0)
        segment.written_off_at = moment
        append_event(
            session,
            state,
            "stock.written_off",
            {
                "code": code,
                "first": first,
                "last": last,
                "holder": holder,
                "issued": report.issued,
                "red": report.red,
                "unused": report.unused,
            },
            moment,
        )
        sign_head(session, state, signer)
    return report


def usage_report(db: Database, segment_id: int) -> WriteOffReport:
    """The write-off report of a segment without closing it."""
    with db.read() as session:
        segment = session.get(Segment, segment_id)
        if segment is None:
            raise InvalidInput(f"no segment {segment_id}")
        return _usage_report(session, segment)


def usage_in(session: Session, segment: Segment) -> WriteOffReport:
    """The write-off report of a segment inside an open transaction: the tier above checks a
    write-off it receives against the receipts it holds (receipts.transmission.write_offs)."""
    return _usage_report(session, segment)


def _usage_report(session: Session, segment: Segment) -> WriteOffReport:
    # Only the holder's receipts use its numbers: another issuer's receipt in the range is an
    # anomaly (reconcile stock lists it outside every segment of its own), and counting it here
    # would hide the holder's gap at that number.
    rows = session.execute(
        select(ReceiptRow.number, ReceiptRow.kind)
        .where(
            ReceiptRow.code == segment.code,
            ReceiptRow.number.between(segment.first, segment.last),
            ReceiptRow.issuer == segment.holder,
        )
        .order_by(ReceiptRow.number)
    ).all()
    used = {number for number, _ in rows}
    normal = [number for number, kind in rows if kind == "normal"]
    reversed_count = 0
    if normal:
        reversed_count = (
            session.scalar(
                select(func.count())
                .select_from(ReceiptRow)
                .where(
                    ReceiptRow.original_code == segment.code,
                    ReceiptRow.original_number.between(segment.first, segment.last),
                    ReceiptRow.issuer == segment.holder,
                )
            )
            or 0
        )
    highest = max(used, default=segment.first - 1)
    gaps = tuple(n for n in range(segment.first, highest + 1) if n not in used)
    return WriteOffReport(
        code=segment.code,
        first=segment.first,
        last=segment.last,
        issued=len(normal),
        reversed=reversed_count,
        red=len(rows) - len(normal),
        unused=segment.last - highest,
        gaps=gaps,
    )
