"""Exporting to the tier above: everything it has not acknowledged, as one package (zip).

A package holds a signed manifest (:mod:`receipts.transmission.package`), the sender's events
not yet acknowledged (``events.jsonl``: the chain fragment, whose signed head the tier above
keeps as its outside copy of the sender's ledger), the signed receipts those events issued or
imported, and, for a province forwarding its children's receipts, what the national tier needs
to check them: the children's signed allocations, registry entries and CRLs; and the signed
allocation of every segment this federation allocated that its events write off, and the signed
settlement statements its events made (docs/formats.md, docs/settlement.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.money import from_fen
from receipts.errors import ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.events import canonical_json, head_message
from receipts.ledger.models import Event, OrganisationRow, ReceiptRow, Segment, Transmission
from receipts.pki.signer import ReceiptSigner
from receipts.support.safezip import write_zip
from receipts.transmission.acknowledgement import ACK_EVENT
from receipts.transmission.carried_statements import add_statements
from receipts.transmission.chain_fragment import events_jsonl
from receipts.transmission.listing import listing_csv
from receipts.transmission.package import (
    LISTING,
    VERSION,
    ListedReceipt,
    Manifest,
    RefusedPackage,
    manifest_element,
)
from receipts.transmission.write_offs import WRITE_OFF_EVENT
from receipts.tsa.stamping import stamped_xml, tokens_for

__all__ = ["NothingToSend", "export_package"]

#: Events whose receipts travel in a package.
_CARRIES_RECEIPT = ("receipt.issued", "receipt.imported")


class NothingToSend(ReceiptError):
    """Everything was acknowledged already."""

    exit_code = 0


@dataclass
class _Contents:
    """What a package carries besides its manifest, gathered in one read transaction."""

    members: dict[str, bytes]
    """Member path → content, in the order they go into the zip."""
    listed: list[ListedReceipt] = field(default_factory=list)
    """The receipts, in event order."""
    totals: dict[str, list[int]] = field(default_factory=dict)
    """Receipt count and total in fen per issuer."""


def export_package(
    db: Database,
    signer: ReceiptSigner,
    recipient: str,
    crls_pem: bytes = b"",
    *,
    version: int = VERSION,
) -> tuple[bytes, Manifest]:
    """Everything the tier above has not acknowledged, as one package (zip bytes); ``version``
    1 lists the receipts in the manifest (what a tier above not yet upgraded reads)."""
    me = signer.org_code
    with db.read() as session:
        events = _unacknowledged_events(session)
        contents = _Contents({"events.jsonl": events_jsonl(events)})
        _add_receipts(session, events, contents)
        _add_children(session, me, contents)
        _add_written_off(session, me, events, contents)
        add_statements(session, events, contents.members)
    members, listed, totals = contents.members, contents.listed, contents.totals
    if crls_pem:
        members["crls.pem"] = crls_pem
    if version != 1:
        members[LISTING] = listing_csv(listed)
    last = events[-1]
    head_signature = signer.sign(head_message(me, last.seq, last.hash))
    now = datetime.now(UTC).replace(microsecond=0)
    root = manifest_element(
        me,
        recipient,
        now,
        events[0].seq,
        last.seq,
        last.hash,
        head_signature,
        totals,
        listed,
        members,
        version,
    )
    manifest = signer.sign_document(root, now)
    members["manifest.xml"] = manifest
    package = write_zip(members)
    parsed = Manifest(
        me,
        recipient,
        now,
        events[0].seq,
        last.seq,
        last.hash,
        head_signature,
        {k: (v[0], from_fen(v[1])) for k, v in totals.items()},
        tuple(listed),
        {
            k: hashlib.sha256(v).hexdigest()
            for k, v in members.items()
            if version == 1 or not k.startswith("receipts/")
        },
        hashlib.sha256(manifest).hexdigest(),
        version,
    )
    _record_sent(db, parsed, sum(v[1] for v in totals.values()))
    return package, parsed


def _unacknowledged_events(session: Session) -> list[Event]:
    """This ledger's events after the last acknowledged package; refused when only
    acknowledgements are left."""
    acked = (
        session.scalar(
            select(func.max(Transmission.last_seq)).where(
                Transmission.direction == "out", Transmission.acknowledged_at.is_not(None)
            )
        )
        or 0
    )
    events = list(session.scalars(select(Event).where(Event.seq > acked).order_by(Event.seq)))
    if all(e.kind == ACK_EVENT for e in events):
        raise NothingToSend("nothing to transmit: the tier above has acknowledged everything")
    return events


def _add_receipts(session: Session, events: list[Event], contents: _Contents) -> None:
    """The signed receipt of every event that issued or imported one, with its signature
    time-stamp in it when it has one (XAdES-T; the listed digest stays the one of the receipt
    as issued, which the events name)."""
    carried = [(e.seq, json.loads(e.payload)) for e in events if e.kind in _CARRIES_RECEIPT]
    tokens = tokens_for(session, [(p["code"], p["number"]) for _, p in carried])
    for seq, p in carried:
        row = session.get(ReceiptRow, (p["code"], p["number"]))
        if row is None:
            raise RefusedPackage(
                f"receipt {p['code']}-{p['number']:010d} of event "
                f"{seq} is missing from this ledger: run receipts audit"
            )
        xml = stamped_xml(row.xml, tokens.get((row.code, row.number)))
        contents.members[f"receipts/{row.code}-{row.number:010d}.xml"] = xml
        contents.listed.append(ListedReceipt(row.code, row.number, row.issuer, row.digest))
        count_total = contents.totals.setdefault(row.issuer, [0, 0])
        count_total[0] += 1
        count_total[1] += row.total_fen


def _add_children(session: Session, me: str, contents: _Contents) -> None:
    """The allocations of the issuers' segments and the registry entries of the city-tier
    issuers, for the tier above to check their receipts."""
    issuers = sorted({r.issuer for r in contents.listed})
    children = [org for org in issuers if org != me]
    # The tier above checks every number against the segment it lies in; segments this
    # federation allocated (to itself or its children) are news to it, so they travel too.
    for segment in session.scalars(
        select(Segment).where(Segment.holder.in_(issuers), Segment.allocated_by == me)
    ):
        contents.members[f"allocations/{segment.digest[:32]}.xml"] = segment.document
    registry = (
        [
            {"code": o.code, "name": o.name, "tier": o.tier, "uscc": o.uscc, "parent": o.parent}
            for o in session.scalars(
                select(OrganisationRow).where(OrganisationRow.code.in_(children))
            )
            if children
        ]
        if children
        else []
    )
    if registry:
        contents.members["registry.json"] = canonical_json({"organisations": registry}).encode()


def _add_written_off(session: Session, me: str, events: list[Event], contents: _Contents) -> None:
    """The allocations this federation made of the segments its events write off: the tier
    above may never have seen a segment from which no receipt travelled, and it closes the
    segment only once it knows it (:mod:`receipts.transmission.write_offs`)."""
    for event in events:
        if event.kind != WRITE_OFF_EVENT:
            continue
        p = json.loads(event.payload)
        segment = session.scalars(
            select(Segment).where(
                Segment.code == p["code"],
                Segment.first == p["first"],
                Segment.holder == p["holder"],
                Segment.allocated_by == me,
            )
        ).first()
        if segment is not None:
            contents.members[f"allocations/{segment.digest[:32]}.xml"] = segment.document


def _record_sent(db: Database, parsed: Manifest, total_fen: int) -> None:
    """Remember the package as sent (once), for its acknowledgement to find."""
    with db.write() as (session, _):
        if (
            session.scalar(select(Transmission.id).where(Transmission.digest == parsed.digest))
            is None
        ):
            session.add(
                Transmission(
                    direction="out",
                    peer=parsed.recipient,
                    digest=parsed.digest,
                    created_at=parsed.created_at,
                    first_seq=parsed.first_seq,
                    last_seq=parsed.last_seq,
                    head_hash=parsed.head_hash,
                    receipts=parsed.receipt_count,
                    total_fen=total_fen,
                )
            )
