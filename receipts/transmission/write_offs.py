"""Write-offs (核销) that travel up: a ``stock.written_off`` event in a package's chain fragment
closes the segment in the ledger of the tier above, as it closed it in the sender's.

The event is covered by the sender's signed chain head like every other event of the fragment
(:mod:`receipts.transmission.chain_fragment`); nothing else signs it. What the tier above checks
before it closes anything (docs/security.md, "Write-offs that travel up"):

* the holder named is the sender, or (forwarded by a province) one of its city-tier federations;
* the segment is one this ledger knows, held by that holder and allocated by the owner of its
  receipt code, which is this federation or the sender: a write-off of another holder's numbers,
  or of numbers this ledger never saw allocated, refuses the package;
* the counts the event states (issued, red, unused) are those of the holder's receipts this
  ledger holds in the segment once the package's own receipts are stored: a write-off that would
  void numbers already issued, or leave a gap, refuses the package.

Once closed here, the segment takes no new receipt: one that arrives later, in a number the
write-off voided, refuses its package. A segment closed here already is left as it is (a resent
fragment carries its write-off again). The tier above records the write-off as its own
``stock.written_off`` event, with ``from``, so that its audit re-derives it and its own package
forwards it to the tier above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import InvalidInput
from receipts.issuing.stock_accounting import usage_in
from receipts.issuing.stock_allocation import owner_of_code
from receipts.ledger.events import append_event
from receipts.ledger.models import Segment
from receipts.transmission.package import RefusedPackage

__all__ = [
    "WRITE_OFF_EVENT",
    "TravellingWriteOff",
    "check_not_written_off",
    "close_written_off",
    "write_offs_in",
]

#: The event a write-off appends, in the holder's ledger and in every ledger above it.
WRITE_OFF_EVENT = "stock.written_off"

_COUNTS = ("issued", "red", "unused")


@dataclass(frozen=True)
class TravellingWriteOff:
    """A write-off as a sender's event states it."""

    seq: int
    """The sender's event number."""
    at: datetime
    """When the segment was written off."""
    code: str
    """Receipt code."""
    first: int
    """First number of the segment."""
    last: int
    """Last number of the segment."""
    holder: str
    """Who held the segment and wrote it off."""
    counts: tuple[int, int, int]
    """Issued, red and unused numbers, as the event states them."""

    @property
    def label(self) -> str:
        """``CODE:FIRST-LAST``."""
        return f"{self.code}:{self.first}-{self.last}"


def write_offs_in(events: list[dict[str, Any]], what: str) -> list[TravellingWriteOff]:
    """The write-off events of a checked chain fragment, in chain order; a malformed one
    refuses the package."""
    out = []
    for event in events:
        if event.get("kind") != WRITE_OFF_EVENT:
            continue
        try:
            out.append(_parse(event))
        except (InvalidInput, KeyError, TypeError, ValueError):
            raise RefusedPackage(
                f"{what}: the {WRITE_OFF_EVENT} event {event.get('seq')} is malformed"
            ) from None
    return out


def _parse(event: dict[str, Any]) -> TravellingWriteOff:
    p = event["payload"]
    first, last = validate_number(_integer(p["first"])), validate_number(_integer(p["last"]))
    if first > last:
        raise ValueError("first after last")
    counts = tuple(_integer(p[k]) for k in _COUNTS)
    if any(n < 0 for n in counts):
        raise ValueError("negative count")
    at = datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return TravellingWriteOff(
        seq=_integer(event["seq"]),
        at=at,
        code=validate_receipt_code(p["code"]),
        first=first,
        last=last,
        holder=divisions.validate_division_code(p["holder"]),
        counts=(counts[0], counts[1], counts[2]),
    )


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def close_written_off(
    session: Session,
    state: Any,
    write_offs: list[TravellingWriteOff],
    sender: str,
    me: str,
    what: str,
) -> tuple[str, ...]:
    """Close the segments the sender wrote off, after the checks above; the labels of those
    closed. Runs inside the import's write transaction, after the package's receipts are
    stored."""
    closed: list[str] = []
    for w in write_offs:
        segment = _segment(session, w, sender, me, what)
        if segment.written_off_at is not None:
            continue
        _check_counts(session, segment, w, what)
        segment.written_off_at = w.at
        issued, red, unused = w.counts
        append_event(
            session,
            state,
            WRITE_OFF_EVENT,
            {
                "code": w.code,
                "first": w.first,
                "last": w.last,
                "holder": w.holder,
                "issued": issued,
                "red": red,
                "unused": unused,
                "from": sender,
            },
        )
        closed.append(w.label)
    return tuple(closed)


def _segment(session: Session, w: TravellingWriteOff, sender: str, me: str, what: str) -> Segment:
    """The segment the write-off names: the sender's (or its child's), allocated by the owner
    of its code, which is this federation or the sender."""
    where = f"{what}: event {w.seq}"
    if w.holder != sender and divisions.upstream_of(w.holder) != sender:
        raise RefusedPackage(
            f"{where} writes off a segment of {w.holder}, which is neither {sender} nor one "
            "of its city-tier federations"
        )
    allocator = owner_of_code(w.code)
    segment = None
    if allocator in (me, sender):
        segment = session.scalars(
            select(Segment).where(
                Segment.code == w.code,
                Segment.first == w.first,
                Segment.last == w.last,
                Segment.holder == w.holder,
                Segment.allocated_by == allocator,
            )
        ).first()
    if segment is None:
        raise RefusedPackage(
            f"{where} writes off {w.label}, but this ledger has no segment {w.label} "
            f"allocated to {w.holder} by {allocator}"
        )
    return segment


def _check_counts(session: Session, segment: Segment, w: TravellingWriteOff, what: str) -> None:
    """The numbers the event accounts for are those of the receipts this ledger holds."""
    held = usage_in(session, segment)
    found = (held.issued, held.red, held.unused)
    if found != w.counts or held.gaps:
        stated = ", ".join(f"{n} {k}" for k, n in zip(_COUNTS, w.counts, strict=True))
        holds = ", ".join(f"{n} {k}" for k, n in zip(_COUNTS, found, strict=True))
        gaps = f" and {len(held.gaps)} gap(s)" if held.gaps else ""
        raise RefusedPackage(
            f"{what}: event {w.seq}: the write-off of {w.label} states {stated}; the receipts "
            f"of {w.holder} this ledger holds in it make {holds}{gaps}"
        )


def check_not_written_off(segment: Segment, ref: ReceiptRef, what: str) -> None:
    """A receipt new to this ledger may not lie in a segment written off here: the write-off
    came after every receipt issued from it in the holder's chain, so this one is in a number
    the write-off voided."""
    if segment.written_off_at is not None:
        raise RefusedPackage(
            f"{what}: receipt {ref} lies in segment {segment.code}:{segment.first}-"
            f"{segment.last}, which {segment.holder} wrote off: its unused numbers are void"
        )
