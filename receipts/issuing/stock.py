"""Receipt stock (票据领用): number segments, allocation across ledgers, numbering, write-off.

One receipt code per province and year of issue (national: ``00``). The federation that owns a
code (the province, or the national federation for ``00``) allocates segments of it to itself
and to the city-tier federations of its province. An allocation crosses ledgers as an XML file
signed by the allocating federation; the holder imports it after verifying it against its
trust. Segments of a code never overlap. A federation issues only from segments it holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.identifiers import format_number, validate_number
from receipts.domain.model import Organisation
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput, StockExhausted
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import NumberCounter, ReceiptRow, Segment
from receipts.pki.signer import ReceiptSigner
from signing.trust import ChainValidator

__all__ = [
    "ALLOCATION_NS",
    "Allocation",
    "SegmentUsage",
    "WriteOffReport",
    "allocate",
    "allocation_from_element",
    "check_may_allocate",
    "import_allocation",
    "owner_of_code",
    "segment_usage",
    "store_segment",
    "take_numbers",
    "usage_report",
    "write_off",
]

ALLOCATION_NS = "urn:union-dues-receipt:allocation:1"
_A = f"{{{ALLOCATION_NS}}}"


@dataclass(frozen=True)
class Allocation:
    """A segment as the allocation document states it."""

    allocator: str
    """The federation that owns the code."""
    holder: str
    """The federation that may issue from the segment."""
    holder_name: str
    """The holder's name."""
    code: str
    """Receipt code."""
    first: int
    """First number."""
    last: int
    """Last number."""
    allocated_at: datetime
    """When it was allocated."""

    @property
    def label(self) -> str:
        """``CODE:FIRST-LAST``."""
        return f"{self.code}:{self.first}-{self.last}"


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


def owner_of_code(code: str) -> str:
    """The federation that allocates a receipt code: its province, or national for ``00``."""
    return divisions.NATIONAL if code[:2] == "00" else code[:2] + "0000"


def check_may_allocate(allocator: str, holder: str, code: str) -> None:
    """The allocation rules (SPEC §5): the owner of the code, to itself or its city tier."""
    if owner_of_code(code) != allocator:
        raise InvalidInput(
            f"{allocator} does not own receipt code {code} ({owner_of_code(code)} does)"
        )
    if holder != allocator and divisions.upstream_of(holder) != allocator:
        raise InvalidInput(
            f"{allocator} may allocate only to itself or to city-tier federations of its "
            f"province, not to {holder}"
        )


def allocate(
    db: Database,
    signer: ReceiptSigner,
    holder: Organisation,
    code: str,
    count: int,
    now: datetime | None = None,
) -> tuple[Allocation, bytes]:
    """Allocate the next ``count`` free numbers of ``code`` to ``holder``, with the signed file.

    When the holder is the allocator itself, the segment is held at once (no import needed).
    """
    if not 1 <= count <= 10_000_000:
        raise InvalidInput(f"count {count} must be between 1 and 10,000,000")
    check_may_allocate(signer.org_code, holder.code, code)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    with db.write() as (session, state):
        highest = session.scalar(select(func.max(Segment.last)).where(Segment.code == code)) or 0
        first, last = highest + 1, highest + count
        validate_number(last)
        allocation = Allocation(
            signer.org_code, holder.code, holder.name, code, first, last, moment
        )
        document = signer.sign_document(_to_element(allocation), moment)
        store_segment(session, allocation, document)
        append_event(session, state, "stock.allocated", _payload(allocation, document), moment)
        sign_head(session, state, signer)
    return allocation, document


def import_allocation(
    db: Database,
    data: bytes,
    validator: ChainValidator,
    own_org: str,
    signer: HeadSigner | None,
) -> tuple[Allocation, bool]:
    """Verify and record an allocation made to this federation; (allocation, newly imported).

    Importing the same file twice changes nothing.
    """
    root, signer_org = verify_document(
        data, validator, expected_org=None, schema="allocation.xsd", what="allocation"
    )
    allocation = allocation_from_element(root)
    if signer_org != allocation.allocator:
        raise InvalidInput(
            f"allocation says it is from {allocation.allocator} but is signed by {signer_org}"
        )
    check_may_allocate(allocation.allocator, allocation.holder, allocation.code)
    if allocation.holder != own_org:
        raise InvalidInput(
            f"allocation {allocation.label} is for {allocation.holder}, not {own_org}"
        )
    digest = hashlib.sha256(data).hexdigest()
    with db.write() as (session, state):
        if session.scalar(select(Segment.id).where(Segment.digest == digest)) is not None:
            return allocation, False
        store_segment(session, allocation, data)
        append_event(session, state, "stock.imported", _payload(allocation, data))
        sign_head(session, state, signer)
    return allocation, True


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


def store_segment(session: Session, allocation: Allocation, document: bytes) -> None:
    """Record a segment; one overlapping a segment this ledger knows is refused."""
    overlapping = session.scalars(
        select(Segment).where(
            Segment.code == allocation.code,
            Segment.first <= allocation.last,
            Segment.last >= allocation.first,
        )
    ).first()
    if overlapping is not None:
        raise InvalidInput(
            f"segment {allocation.label} overlaps {overlapping.code}:{overlapping.first}-"
            f"{overlapping.last} held by {overlapping.holder}"
        )
    session.add(
        Segment(
            code=allocation.code,
            first=allocation.first,
            last=allocation.last,
            holder=allocation.holder,
            allocated_by=allocation.allocator,
            allocated_at=allocation.allocated_at,
            document=document,
            digest=hashlib.sha256(document).hexdigest(),
        )
    )


def _payload(allocation: Allocation, document: bytes) -> dict[str, object]:
    return {
        "allocator": allocation.allocator,
        "holder": allocation.holder,
        "code": allocation.code,
        "first": allocation.first,
        "last": allocation.last,
        "digest": hashlib.sha256(document).hexdigest(),
    }


def _to_element(allocation: Allocation) -> etree._Element:
    nsmap: dict[str | None, str] = {None: ALLOCATION_NS}
    root = etree.Element(_A + "Allocation", nsmap=nsmap, version="1")  # type: ignore[arg-type]
    for name, value in (
        ("Allocator", allocation.allocator),
        ("Holder", allocation.holder),
        ("HolderName", allocation.holder_name),
        ("Code", allocation.code),
        ("First", format_number(allocation.first)),
        ("Last", format_number(allocation.last)),
        ("AllocatedAt", allocation.allocated_at.isoformat(timespec="seconds")),
    ):
        etree.SubElement(root, _A + name).text = value
    return root


def allocation_from_element(root: etree._Element) -> Allocation:
    def text(name: str) -> str:
        return root.findtext(_A + name) or ""

    first, last = int(text("First")), int(text("Last"))
    if first < 1 or first > last:
        raise InvalidInput(f"allocation has an empty or invalid range {first}-{last}")
    return Allocation(
        allocator=text("Allocator"),
        holder=text("Holder"),
        holder_name=text("HolderName"),
        code=text("Code"),
        first=first,
        last=last,
        allocated_at=datetime.fromisoformat(text("AllocatedAt")),
    )


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
