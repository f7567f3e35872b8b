"""The tier above's side of a transmission: import a package all or nothing, and answer with a
signed acknowledgement (:mod:`receipts.transmission.acknowledgement`).

Everything is checked before anything is written, and written in one transaction: every
signature and chain, that the sender's upstream is this federation (or, forwarded, that the
issuers descend from the sender), that numbers lie in segments allocated to their issuer, that
the digests match, that a write-off the sender's chain carries closes one of its own segments
and agrees with its receipts (:mod:`receipts.transmission.write_offs`). Importing the same
package twice changes nothing and says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.model import Receipt
from receipts.domain.money import to_fen
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput
from receipts.issuing.receipt_rows import (
    item_columns,
    receipt_columns,
)
from receipts.issuing.stock_allocation import (
    Allocation,
    allocation_from_element,
    check_may_allocate,
    store_segment,
)
from receipts.ledger.database import Database
from receipts.ledger.events import append_event, head_message, next_event, sign_head
from receipts.ledger.models import (
    Event,
    OrganisationRow,
    PeerHead,
    ReceiptItemRow,
    ReceiptRow,
    ReceiptShareRow,
    Segment,
    Transmission,
)
from receipts.pki.signer import ReceiptSigner
from receipts.transmission.acknowledgement import build_acknowledgement
from receipts.transmission.chain_fragment import check_event_fragment
from receipts.transmission.package import Manifest, RefusedPackage, package_crls, read_package
from receipts.transmission.received_shares import ReceivedShares
from receipts.transmission.write_offs import (
    check_not_written_off,
    close_written_off,
    write_offs_in,
)
from receipts.tsa.stamping import Stamper, record_token, tokens_for
from receipts.verify.receipt import verify_receipt_xml
from signing.result import Finding
from signing.seal import verify_seal
from signing.timestamps import TimeStampError, check_token
from signing.trust import ChainValidator
from signing.xades_t import (
    DEFAULT_TOLERANCE,
    TimestampError,
    signature_timestamp_input,
    split_signature_timestamp,
)

__all__ = ["ImportResult", "import_package"]


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    manifest: Manifest
    """The package's manifest."""
    new: bool
    """False when the package had been imported before (nothing changed)."""
    added: int
    """Receipts added to this ledger."""
    known: int
    """Receipts this ledger held already (a resent package)."""
    acknowledgement: bytes
    """The signed acknowledgement to send back."""
    crls: tuple[x509.CertificateRevocationList, ...]
    """CRLs the package carried, each signed by a CA this workspace trusts, for the caller to
    merge into the workspace's trust (the same merge, which checks them again)."""
    written_off: tuple[str, ...] = ()
    """Segments (``CODE:FIRST-LAST``) the package's write-offs closed in this ledger."""


@dataclass(frozen=True)
class _Checked:
    receipt: Receipt
    xml: bytes
    """The receipt as issued (a signature time-stamp it travelled with taken out)."""
    digest: str
    token: bytes | None = None
    """Its signature time-stamp (verified), from the package or this tier's authority."""


def import_package(
    db: Database,
    data: bytes,
    validator: ChainValidator,
    signer: ReceiptSigner,
    what: str,
    *,
    stamper: Stamper | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> ImportResult:
    """Import a package sent to this federation; refuse it whole on any problem.

    Receipts may travel time-stamped (XAdES-T): the time-stamp is verified with the receipt
    (``tolerance``: how far its claimed signing time may lie before it) and kept beside it.
    ``stamper`` (this tier's own authority) time-stamps those that arrive without one.
    """
    manifest, members, sender_cert = read_package(data, validator, what)
    _check_sender(manifest, sender_cert, signer.org_code, what)
    checked = _check_receipts(manifest, members, validator, what, tolerance)
    if stamper is not None:
        checked = _stamped_here(checked, stamper, validator, what)
    allocations = _check_allocations(manifest, members, validator, what)
    registry = _registry(members, manifest.sender, what)
    crls = package_crls(members, validator, what)
    with db.write() as (session, state):
        if (
            session.scalar(select(Transmission.id).where(Transmission.digest == manifest.digest))
            is not None
        ):
            return ImportResult(
                manifest, False, 0, len(checked), build_acknowledgement(signer, manifest), crls
            )
        peer = session.get(PeerHead, manifest.sender)
        events = check_event_fragment(
            members["events.jsonl"],
            manifest,
            (peer.event_count, peer.head_hash) if peer else None,
            what,
        )
        _match_events(events, manifest, what)
        for allocation, document in allocations:
            _record_allocation(session, state, allocation, document, manifest.sender)
        for entry in registry:
            _register(session, state, entry)
        shared = ReceivedShares(session, events, what)
        _store_tokens(session, state, checked, validator)
        added, known = _store_receipts(session, state, checked, manifest.sender, what, shared)
        # After the receipts: a write-off is checked against every receipt of its segment.
        write_offs = write_offs_in(events, what)
        closed = close_written_off(
            session, state, write_offs, manifest.sender, signer.org_code, what
        )
        now = datetime.now(UTC).replace(microsecond=0)
        _keep_peer_head(session, peer, manifest, sender_cert, now)
        _record_received(session, state, manifest, len(checked), added, now)
        sign_head(session, state, signer)
    ack = build_acknowledgement(signer, manifest)
    return ImportResult(manifest, True, added, known, ack, crls, closed)


def _check_sender(manifest: Manifest, sender_cert: x509.Certificate, me: str, what: str) -> None:
    """Addressed to this federation, from one of its direct children, head signed by it."""
    if manifest.recipient != me:
        raise RefusedPackage(f"{what} is addressed to {manifest.recipient}, not to {me}")
    if divisions.upstream_of(manifest.sender) != me:
        raise RefusedPackage(
            f"{what} comes from {manifest.sender}, whose upstream is "
            f"{divisions.upstream_of(manifest.sender)}, not {me}"
        )
    if not verify_seal(
        sender_cert,
        head_message(manifest.sender, manifest.last_seq, manifest.head_hash),
        manifest.head_signature,
    ):
        raise RefusedPackage(f"{what}: the sender's chain-head signature does not verify")


def _store_receipts(
    session: Session,
    state: Any,
    checked: list[_Checked],
    sender: str,
    what: str,
    shared: ReceivedShares,
) -> tuple[int, int]:
    """Add the receipts this ledger lacks, each with its shares (recomputed here) and its
    ``receipt.imported`` event; (added, known). A known number with other content refuses the
    package."""
    added = known = 0
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    new_events: list[dict[str, Any]] = []
    for c in checked:
        segment = _check_in_segment(session, c.receipt, what)
        existing = session.get(ReceiptRow, (c.receipt.code, c.receipt.number))
        if existing is not None:
            if existing.digest != c.digest:
                raise RefusedPackage(
                    f"{what}: receipt {c.receipt.ref} differs from the one "
                    "this ledger holds (same number, other content)"
                )
            known += 1
            continue
        check_not_written_off(segment, c.receipt.ref, what)
        rows.append(receipt_columns(c.receipt, c.xml, c.digest))
        items.extend(item_columns(c.receipt))
        new_events.append(
            next_event(
                state,
                "receipt.imported",
                {
                    "code": c.receipt.code,
                    "number": c.receipt.number,
                    "digest": c.digest,
                    "issuer": c.receipt.issuer.code,
                    "from": sender,
                    "sharing": shared.add(c.receipt),
                },
            )
        )
        added += 1
    for table, values in (
        (Event, new_events),
        (ReceiptRow, rows),
        (ReceiptItemRow, items),
        (ReceiptShareRow, shared.rows),
    ):
        if values:
            session.execute(insert(table), values)
    return added, known


def _keep_peer_head(
    session: Session,
    peer: PeerHead | None,
    manifest: Manifest,
    sender_cert: x509.Certificate,
    now: datetime,
) -> None:
    """Keep the sender's signed head as this ledger's outside copy of its chain (a resent,
    older package does not move it back)."""
    cert_pem = sender_cert.public_bytes(serialization.Encoding.PEM)
    if peer is None:
        session.add(
            PeerHead(
                org_code=manifest.sender,
                event_count=manifest.last_seq,
                head_hash=manifest.head_hash,
                signature=manifest.head_signature,
                certificate=cert_pem,
                received_at=now,
            )
        )
    elif manifest.last_seq >= peer.event_count:
        peer.event_count, peer.head_hash = manifest.last_seq, manifest.head_hash
        peer.signature, peer.certificate, peer.received_at = (
            manifest.head_signature,
            cert_pem,
            now,
        )


def _record_received(
    session: Session, state: Any, manifest: Manifest, receipts: int, added: int, now: datetime
) -> None:
    """The incoming transmission's row and its ``transmission.imported`` event."""
    total = sum((t for _, t in manifest.issuers.values()), Decimal(0))
    session.add(
        Transmission(
            direction="in",
            peer=manifest.sender,
            digest=manifest.digest,
            created_at=now,
            first_seq=manifest.first_seq,
            last_seq=manifest.last_seq,
            head_hash=manifest.head_hash,
            receipts=receipts,
            total_fen=to_fen(total),
        )
    )
    append_event(
        session,
        state,
        "transmission.imported",
        {
            "from": manifest.sender,
            "package": manifest.digest,
            "first": manifest.first_seq,
            "last": manifest.last_seq,
            "head": manifest.head_hash,
            "added": added,
        },
    )


def _stamped_here(
    checked: list[_Checked], stamper: Stamper, validator: ChainValidator, what: str
) -> list[_Checked]:
    """``checked`` with a token from this tier's authority for each receipt that came without
    one (before the import's transaction: the authority logs its serials on its own)."""
    out: list[_Checked] = []
    for c in checked:
        if c.token is None:
            try:
                token = stamper(signature_timestamp_input(c.xml))
            except TimeStampError as exc:
                message = f"{what}: this tier's time-stamp authority failed: {exc}"
                raise RefusedPackage(message) from None
            c = _Checked(c.receipt, c.xml, c.digest, token)
        out.append(c)
    return out


def _store_tokens(
    session: Session, state: Any, checked: list[_Checked], validator: ChainValidator
) -> None:
    """Keep each receipt's time-stamp beside it, unless this ledger has one already."""
    stamped = [c for c in checked if c.token is not None]
    have = tokens_for(session, [(c.receipt.code, c.receipt.number) for c in stamped])
    for c in stamped:
        key = (c.receipt.code, c.receipt.number)
        if key in have or c.token is None:
            continue
        result = check_token(c.token, signature_timestamp_input(c.xml), validator)
        if isinstance(result, Finding):  # verified with the receipt already: cannot happen
            raise RefusedPackage(f"receipt {c.receipt.ref}: {result.message}")
        record_token(session, state, *key, c.token, result)


def _check_receipts(
    manifest: Manifest,
    members: dict[str, bytes],
    validator: ChainValidator,
    what: str,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> list[_Checked]:
    out: list[_Checked] = []
    counts: dict[str, list[int]] = {}
    for listed in manifest.receipts:
        name = f"receipts/{listed.code}-{listed.number:010d}.xml"
        xml = members.get(name)
        if xml is None:
            raise RefusedPackage(f"{what}: {name} is missing")
        try:
            # The listed digest is the receipt's as issued: a time-stamp is not part of it.
            issued, token = split_signature_timestamp(xml)
        except TimestampError as exc:
            raise RefusedPackage(f"{what}: {name}: {exc}") from None
        if hashlib.sha256(issued).hexdigest() != listed.digest:
            raise RefusedPackage(f"{what}: {name} is not the listed receipt")
        if listed.issuer != manifest.sender and (
            divisions.upstream_of(listed.issuer) != manifest.sender
        ):
            raise RefusedPackage(
                f"{what}: receipt {listed.code}-{listed.number:010d} was issued "
                f"by {listed.issuer}, which is neither {manifest.sender} nor "
                "one of its city-tier federations"
            )
        result = verify_receipt_xml(xml, validator, name, tolerance=tolerance)
        if not result.valid or result.receipt is None:
            first = result.findings[0]
            raise RefusedPackage(f"{what}: {name}: {first.code}: {first.message}")
        receipt = result.receipt
        if (receipt.code, receipt.number, receipt.issuer.code) != (
            listed.code,
            listed.number,
            listed.issuer,
        ):
            raise RefusedPackage(f"{what}: {name} is not the receipt the manifest lists")
        tally = counts.setdefault(listed.issuer, [0, 0])
        tally[0] += 1
        tally[1] += to_fen(receipt.total)
        out.append(_Checked(receipt, issued, listed.digest, token))
    stated = {k: (c, to_fen(t)) for k, (c, t) in manifest.issuers.items()}
    if stated != {k: (v[0], v[1]) for k, v in counts.items()}:
        raise RefusedPackage(f"{what}: the counts and totals per issuer do not match the receipts")
    return out


def _match_events(events: list[dict[str, Any]], manifest: Manifest, what: str) -> None:
    carried = {
        (e["payload"]["code"], e["payload"]["number"], e["payload"]["digest"])
        for e in events
        if e["kind"] in ("receipt.issued", "receipt.imported")
    }
    listed = {(r.code, r.number, r.digest) for r in manifest.receipts}
    if carried != listed:
        raise RefusedPackage(
            f"{what}: the receipts listed are not the ones the sender's events "
            f"issued ({len(listed)} listed, {len(carried)} in the events)"
        )


def _check_allocations(
    manifest: Manifest, members: dict[str, bytes], validator: ChainValidator, what: str
) -> list[tuple[Allocation, bytes]]:
    out = []
    for name in sorted(n for n in members if n.startswith("allocations/")):
        root, signer_org = verify_document(
            members[name],
            validator,
            expected_org=None,
            schema="allocation.xsd",
            what=f"{what}: {name}",
        )
        allocation = allocation_from_element(root)
        if signer_org != allocation.allocator or allocation.allocator != manifest.sender:
            raise RefusedPackage(
                f"{what}: {name} was not allocated and signed by {manifest.sender}"
            )
        try:
            check_may_allocate(allocation.allocator, allocation.holder, allocation.code)
        except InvalidInput as exc:
            raise RefusedPackage(f"{what}: {name}: {exc}") from None
        out.append((allocation, members[name]))
    return out


def _record_allocation(
    session: Session, state: Any, allocation: Allocation, document: bytes, sender: str
) -> None:
    digest = hashlib.sha256(document).hexdigest()
    if session.scalar(select(Segment.id).where(Segment.digest == digest)) is not None:
        return
    store_segment(session, allocation, document)
    append_event(
        session,
        state,
        "stock.recorded",
        {
            "allocator": allocation.allocator,
            "holder": allocation.holder,
            "code": allocation.code,
            "first": allocation.first,
            "last": allocation.last,
            "digest": digest,
            "from": sender,
        },
    )


def _registry(members: dict[str, bytes], sender: str, what: str) -> list[dict[str, Any]]:
    if "registry.json" not in members:
        return []
    try:
        entries = json.loads(members["registry.json"])["organisations"]
    except (ValueError, KeyError, TypeError):
        raise RefusedPackage(f"{what}: registry.json is malformed") from None
    for entry in entries:
        if not isinstance(entry, dict) or divisions.upstream_of(str(entry.get("code"))) != sender:
            raise RefusedPackage(
                f"{what}: registry.json lists an organisation that is not {sender}'s"
            )
    return list(entries)


def _register(session: Session, state: Any, entry: dict[str, Any]) -> None:
    if session.get(OrganisationRow, entry["code"]) is not None:
        return
    facts = {k: entry.get(k) for k in ("code", "name", "tier", "uscc", "parent")}
    session.add(OrganisationRow(**facts))
    append_event(session, state, "org.added", facts)


def _check_in_segment(session: Session, receipt: Receipt, what: str) -> Segment:
    found = session.scalar(
        select(Segment).where(
            Segment.holder == receipt.issuer.code,
            Segment.code == receipt.code,
            Segment.first <= receipt.number,
            Segment.last >= receipt.number,
        )
    )
    if found is None:
        raise RefusedPackage(
            f"{what}: receipt {receipt.ref} lies outside every segment "
            f"allocated to {receipt.issuer.code}"
        )
    return found
