"""Transmission between tiers (SPEC §6): export to the tier above, import all or nothing,
acknowledge.

A package (zip) holds a signed manifest (``schemas/transmission.xsd``), the sender's events not
yet acknowledged (``events.jsonl``: the chain fragment, whose signed head the tier above keeps
as its outside copy of the sender's ledger), the signed receipts those events issued or
imported, and, for a province forwarding its children's receipts, what the national tier needs
to check them: the children's signed allocations, registry entries and CRLs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography import x509
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.money import format_amount, from_fen
from receipts.domain.signed_documents import verify_document_signer
from receipts.errors import ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.events import canonical_json, event_hash, head_message, rfc3339
from receipts.ledger.migrate import GENESIS_HASH
from receipts.ledger.models import (
    ChainHead,
    Event,
    OrganisationRow,
    ReceiptRow,
    Segment,
    Transmission,
)
from receipts.pki.signer import ReceiptSigner
from receipts.support.safezip import read_zip, write_zip
from signing.certificates import org_code_of
from signing.trust import ChainValidator

__all__ = [
    "ACK_EVENT",
    "NS",
    "Manifest",
    "NothingToSend",
    "RefusedPackage",
    "build_acknowledgement",
    "export_package",
    "read_package",
]

NS = "urn:union-dues-receipt:transmission:1"
_T = f"{{{NS}}}"
ACK_EVENT = "transmission.acknowledged"
#: Events whose receipts travel in a package.
_CARRIES_RECEIPT = ("receipt.issued", "receipt.imported")


class NothingToSend(ReceiptError):
    """Everything was acknowledged already."""

    exit_code = 0


class RefusedPackage(ReceiptError):
    """A package (or acknowledgement) is refused as a whole; nothing was imported."""

    exit_code = 1


@dataclass(frozen=True)
class ListedReceipt:
    """A receipt as the manifest lists it."""

    code: str
    number: int
    issuer: str
    digest: str


@dataclass(frozen=True)
class Manifest:
    """What a verified manifest states."""

    sender: str
    recipient: str
    created_at: datetime
    first_seq: int
    last_seq: int
    head_hash: str
    head_signature: str
    issuers: dict[str, tuple[int, Decimal]]
    receipts: tuple[ListedReceipt, ...]
    members: dict[str, str]
    digest: str
    """SHA-256 of the manifest file: the package's identity."""


def export_package(
    db: Database, signer: ReceiptSigner, recipient: str, crls_pem: bytes = b""
) -> tuple[bytes, Manifest]:
    """Everything the tier above has not acknowledged, as one package (zip bytes)."""
    me = signer.org_code
    with db.read() as session:
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
        members: dict[str, bytes] = {"events.jsonl": _events_jsonl(events)}
        listed: list[ListedReceipt] = []
        totals: dict[str, list[int]] = {}
        for event in events:
            if event.kind not in _CARRIES_RECEIPT:
                continue
            p = json.loads(event.payload)
            row = session.get(ReceiptRow, (p["code"], p["number"]))
            if row is None:
                raise RefusedPackage(
                    f"receipt {p['code']}-{p['number']:010d} of event "
                    f"{event.seq} is missing from this ledger: run receipts audit"
                )
            members[f"receipts/{row.code}-{row.number:010d}.xml"] = row.xml
            listed.append(ListedReceipt(row.code, row.number, row.issuer, row.digest))
            count_total = totals.setdefault(row.issuer, [0, 0])
            count_total[0] += 1
            count_total[1] += row.total_fen
        issuers = sorted({r.issuer for r in listed})
        children = [org for org in issuers if org != me]
        # The tier above checks every number against the segment it lies in; segments this
        # federation allocated (to itself or its children) are news to it, so they travel too.
        for segment in session.scalars(
            select(Segment).where(Segment.holder.in_(issuers), Segment.allocated_by == me)
        ):
            members[f"allocations/{segment.digest[:32]}.xml"] = segment.document
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
            members["registry.json"] = canonical_json({"organisations": registry}).encode()
    if crls_pem:
        members["crls.pem"] = crls_pem
    last = events[-1]
    head_signature = signer.sign(head_message(me, last.seq, last.hash))
    now = datetime.now(UTC).replace(microsecond=0)
    root = _manifest_element(
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
        {k: hashlib.sha256(v).hexdigest() for k, v in members.items()},
        hashlib.sha256(manifest).hexdigest(),
    )
    with db.write() as (session, _):
        if (
            session.scalar(select(Transmission.id).where(Transmission.digest == parsed.digest))
            is None
        ):
            session.add(
                Transmission(
                    direction="out",
                    peer=recipient,
                    digest=parsed.digest,
                    created_at=now,
                    first_seq=parsed.first_seq,
                    last_seq=parsed.last_seq,
                    head_hash=parsed.head_hash,
                    receipts=len(listed),
                    total_fen=sum(v[1] for v in totals.values()),
                )
            )
    return package, parsed


def _events_jsonl(events: Iterable[Event]) -> bytes:
    lines = [
        canonical_json(
            {
                "seq": e.seq,
                "at": rfc3339(e.at),
                "kind": e.kind,
                "payload": json.loads(e.payload),
                "prev": e.prev_hash,
                "hash": e.hash,
            }
        )
        for e in events
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _manifest_element(
    sender: str,
    recipient: str,
    now: datetime,
    first: int,
    last: int,
    head: str,
    head_signature: str,
    totals: dict[str, list[int]],
    listed: list[ListedReceipt],
    members: dict[str, bytes],
) -> etree._Element:
    nsmap: Any = {None: NS}
    root = etree.Element(_T + "Transmission", nsmap=nsmap, version="1")
    etree.SubElement(root, _T + "Sender").text = sender
    etree.SubElement(root, _T + "Recipient").text = recipient
    etree.SubElement(root, _T + "CreatedAt").text = now.isoformat()
    etree.SubElement(
        root,
        _T + "Events",
        first=str(first),
        last=str(last),
        head=head,
        headSignature=head_signature,
    )
    for issuer in sorted(totals):
        count, fen = totals[issuer]
        etree.SubElement(
            root, _T + "Issuer", code=issuer, count=str(count), total=format_amount(from_fen(fen))
        )
    for r in listed:
        etree.SubElement(
            root,
            _T + "Receipt",
            code=r.code,
            number=f"{r.number:010d}",
            issuer=r.issuer,
            digest=r.digest,
        )
    for name in sorted(members):
        etree.SubElement(
            root, _T + "Member", path=name, digest=hashlib.sha256(members[name]).hexdigest()
        )
    return root


def read_package(
    data: bytes, validator: ChainValidator, what: str
) -> tuple[Manifest, dict[str, bytes], x509.Certificate]:
    """Open a package safely, verify its manifest's signature and every member's digest;
    return the manifest, the other members, and the sender's signing certificate."""
    members = read_zip(data, what)
    manifest_bytes = members.pop("manifest.xml", None)
    if manifest_bytes is None:
        raise RefusedPackage(f"{what} has no manifest.xml")
    root, signer = verify_document_signer(
        manifest_bytes,
        validator,
        expected_org=None,
        schema="transmission.xsd",
        what=f"{what} manifest",
    )
    if root.tag != _T + "Transmission":
        raise RefusedPackage(f"{what}: the signed document is not a transmission manifest")
    manifest = _parse_manifest(root, hashlib.sha256(manifest_bytes).hexdigest())
    signer_org = org_code_of(signer)
    if signer_org != manifest.sender:
        raise RefusedPackage(
            f"{what}: the manifest names sender {manifest.sender} but is signed by {signer_org}"
        )
    if set(members) != set(manifest.members):
        extra = sorted(set(members) - set(manifest.members))
        missing = sorted(set(manifest.members) - set(members))
        raise RefusedPackage(
            f"{what}: members not as listed (unlisted: {extra[:3]}, missing: {missing[:3]})"
        )
    for name, content in members.items():
        if hashlib.sha256(content).hexdigest() != manifest.members[name]:
            raise RefusedPackage(
                f"{what}: member {name} was changed (digest differs from the signed manifest)"
            )
    return manifest, members, signer


def _parse_manifest(root: etree._Element, digest: str) -> Manifest:
    events = root.find(_T + "Events")
    assert events is not None  # the schema requires it
    issuers = {
        el.get("code", ""): (int(el.get("count", "0")), Decimal(el.get("total", "0")))
        for el in root.iterfind(_T + "Issuer")
    }
    receipts = tuple(
        ListedReceipt(
            el.get("code", ""),
            int(el.get("number", "0")),
            el.get("issuer", ""),
            el.get("digest", ""),
        )
        for el in root.iterfind(_T + "Receipt")
    )
    members = {el.get("path", ""): el.get("digest", "") for el in root.iterfind(_T + "Member")}
    return Manifest(
        sender=root.findtext(_T + "Sender") or "",
        recipient=root.findtext(_T + "Recipient") or "",
        created_at=datetime.fromisoformat(root.findtext(_T + "CreatedAt") or ""),
        first_seq=int(events.get("first", "0")),
        last_seq=int(events.get("last", "0")),
        head_hash=events.get("head", ""),
        head_signature=events.get("headSignature", ""),
        issuers=issuers,
        receipts=receipts,
        members=members,
        digest=digest,
    )


def check_event_fragment(
    data: bytes, manifest: Manifest, previous: tuple[int, str] | None, what: str
) -> list[dict[str, Any]]:
    """Recompute the sender's chain fragment; it must link to the head we hold of it."""
    try:
        events = [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefusedPackage(f"{what}: events.jsonl is not JSON lines: {exc}") from None
    if not events:
        raise RefusedPackage(f"{what}: no events")
    seqs = [e.get("seq") for e in events]
    if seqs != list(range(manifest.first_seq, manifest.last_seq + 1)):
        raise RefusedPackage(
            f"{what}: events are not {manifest.first_seq}..{manifest.last_seq} in order"
        )
    prev = events[0].get("prev")
    for event in events:
        try:
            recomputed = event_hash(
                event["prev"],
                event["seq"],
                event["at"],
                event["kind"],
                canonical_json(event["payload"]) if isinstance(event["payload"], dict) else "",
            )
        except (KeyError, TypeError, ValueError):
            raise RefusedPackage(f"{what}: event {event.get('seq')} is malformed") from None
        if event["prev"] != prev or recomputed != event["hash"]:
            raise RefusedPackage(
                f"{what}: the sender's event chain is broken at event {event['seq']}"
            )
        prev = event["hash"]
    if prev != manifest.head_hash:
        raise RefusedPackage(f"{what}: the events do not end at the signed head")
    if manifest.first_seq == 1 and events[0]["prev"] != GENESIS_HASH:
        raise RefusedPackage(f"{what}: the sender's first event does not start its chain")
    if previous is not None:
        count, head = previous
        if manifest.last_seq < count:
            raise RefusedPackage(
                f"{what}: the sender's chain is shorter ({manifest.last_seq} "
                f"events) than the head we hold ({count}): truncated?"
            )
        if manifest.first_seq > count + 1:
            raise RefusedPackage(
                f"{what}: events {count + 1}..{manifest.first_seq - 1} are "
                "missing (a package was lost: the sender must resend)"
            )
        linked = {e["seq"]: e["hash"] for e in events}
        if count >= manifest.first_seq and linked.get(count) != head:
            raise RefusedPackage(
                f"{what}: the sender's event {count} is not the one we hold: "
                "its ledger was rewritten"
            )
        if count == manifest.first_seq - 1 and events[0]["prev"] != head:
            raise RefusedPackage(f"{what}: the events do not continue the head we hold")
    return events


def build_acknowledgement(signer: ReceiptSigner, manifest: Manifest) -> bytes:
    """The signed acknowledgement of an imported package."""
    now = datetime.now(UTC).replace(microsecond=0)
    nsmap: Any = {None: NS}
    root = etree.Element(_T + "Acknowledgement", nsmap=nsmap, version="1")
    count = sum(c for c, _ in manifest.issuers.values())
    total = sum((t for _, t in manifest.issuers.values()), Decimal("0.00"))
    for name, text in (
        ("From", signer.org_code),
        ("To", manifest.sender),
        ("Package", manifest.digest),
        ("LastEvent", str(manifest.last_seq)),
        ("HeadHash", manifest.head_hash),
        ("Receipts", str(count)),
        ("Total", format_amount(total)),
        ("AcknowledgedAt", now.isoformat()),
    ):
        etree.SubElement(root, _T + name).text = text
    return signer.sign_document(root, now)


def latest_signed_head(session: Session) -> ChainHead | None:
    """This ledger's newest signed head."""
    return session.scalars(select(ChainHead).order_by(ChainHead.event_count.desc())).first()
