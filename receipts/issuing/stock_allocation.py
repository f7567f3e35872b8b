"""Allocating receipt stock (票据领用): who may allocate which code's number segments, the signed
allocation document, and recording a segment when it is allocated or imported.

One receipt code per province and year of issue (national: ``00``). The federation that owns a
code (the province, or the national federation for ``00``) allocates segments of it to itself
and to the city-tier federations of its province. An allocation crosses ledgers as an XML file
signed by the allocating federation; the holder imports it after verifying it against its
trust. An allocation carries the allocator's union-finance rules (``<Rules>``, signed with it);
a city applies those of the newest allocation it imported from its province
(:func:`upstream_rules`, docs/formats.md "Union-finance rules"). Segments of a code never
overlap. A federation issues only from segments it holds;
taking numbers from them and writing them off is :mod:`receipts.issuing.stock_accounting`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.finance_rules import FinanceRules
from receipts.domain.finance_rules_codec import rules_from_element, rules_to_element
from receipts.domain.identifiers import format_number, validate_number
from receipts.domain.model import Organisation
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Segment
from receipts.pki.signer import ReceiptSigner
from signing.trust import ChainValidator

__all__ = [
    "ALLOCATION_NS",
    "Allocation",
    "allocate",
    "allocation_from_element",
    "check_may_allocate",
    "import_allocation",
    "owner_of_code",
    "store_segment",
    "upstream_rules",
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
    rules: FinanceRules | None = None
    """The allocator's union-finance rules, signed with the allocation (None in allocations
    made before rules travelled)."""

    @property
    def label(self) -> str:
        """``CODE:FIRST-LAST``."""
        return f"{self.code}:{self.first}-{self.last}"


def owner_of_code(code: str) -> str:
    """The federation that allocates a receipt code: its province, or national for ``00``."""
    return divisions.NATIONAL if code[:2] == "00" else code[:2] + "0000"


def check_may_allocate(allocator: str, holder: str, code: str) -> None:
    """The allocation rules (docs/architecture.md): the owner of the code allocates, to itself or
    to its city tier."""
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
    rules: FinanceRules | None = None,
) -> tuple[Allocation, bytes]:
    """Allocate the next ``count`` free numbers of ``code`` to ``holder``, with the signed file.

    When the holder is the allocator itself, the segment is held at once (no import needed).
    ``rules``, the allocator's union-finance rules, travel in the signed file.
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
            signer.org_code, holder.code, holder.name, code, first, last, moment, rules
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
    if allocation.rules is not None:
        root.append(rules_to_element(allocation.rules, ALLOCATION_NS))
    return root


def allocation_from_element(root: etree._Element) -> Allocation:
    """The allocation a verified document states; an empty or inverted range is refused."""

    def text(name: str) -> str:
        return root.findtext(_A + name) or ""

    first, last = int(text("First")), int(text("Last"))
    if first < 1 or first > last:
        raise InvalidInput(f"allocation has an empty or invalid range {first}-{last}")
    rules = root.find(_A + "Rules")
    return Allocation(
        allocator=text("Allocator"),
        holder=text("Holder"),
        holder_name=text("HolderName"),
        code=text("Code"),
        first=first,
        last=last,
        allocated_at=datetime.fromisoformat(text("AllocatedAt")),
        rules=None if rules is None else rules_from_element(rules, ALLOCATION_NS),
    )


def upstream_rules(
    session: Session, holder: str, validator: ChainValidator
) -> tuple[FinanceRules, Allocation] | None:
    """The rules of the newest allocation (by its signed time) that ``holder``'s upstream made
    to it and that carries rules, with that allocation; None when there is none.

    Every stored file is verified again against ``validator`` and the newest is chosen by what
    was signed: the rules a city applies come from its upstream's signature, never from
    anything the city can edit (its ledger's columns included).
    """
    upstream = divisions.upstream_of(holder)
    newest: Allocation | None = None
    for segment in session.scalars(
        select(Segment).where(Segment.holder == holder, Segment.allocated_by == upstream)
    ):
        label = f"{segment.code}:{segment.first}-{segment.last}"
        root, _ = verify_document(
            segment.document,
            validator,
            expected_org=upstream,
            schema="allocation.xsd",
            what=f"allocation {label}",
        )
        allocation = allocation_from_element(root)
        if allocation.holder != holder or allocation.label != label:
            raise InvalidInput(f"stored allocation {label} does not match its signed file")
        if allocation.rules is not None and (
            newest is None
            or (allocation.allocated_at, allocation.first) > (newest.allocated_at, newest.first)
        ):
            newest = allocation
    if newest is None or newest.rules is None:
        return None
    return newest.rules, newest
