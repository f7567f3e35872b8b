"""The tier above's side of a transmission: import a package all or nothing, and answer with a
signed acknowledgement (:mod:`receipts.transmission.acknowledgement`).

Checked: every signature and chain, that the sender's upstream is this federation (or,
forwarded, that the issuers descend from the sender), that numbers lie in segments allocated to
their issuer, that the digests match, that a write-off the sender's chain carries closes one of
its own segments and agrees with its receipts (:mod:`receipts.transmission.write_offs`).
Importing the same package twice changes nothing and says so.

A package is streamed (docs/operations.md, "Importing large packages"): the manifest and the
small members are checked before the transaction; the chain fragment and then the receipts, a
chunk at a time verified in worker processes, are checked and stored inside it. It stays all or
nothing: the one transaction commits only after the last check, and any refusal, a worker's
death or an interruption rolls back everything the package wrote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.money import to_fen
from receipts.ledger.database import Database
from receipts.ledger.events import append_event, head_message, sign_head
from receipts.ledger.models import (
    PeerHead,
    Transmission,
)
from receipts.pki.signer import ReceiptSigner
from receipts.transmission.acknowledgement import build_acknowledgement
from receipts.transmission.carried_statements import (
    check_statements,
    match_statements,
    record_statements,
)
from receipts.transmission.held_heads import held_head
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.package import Manifest, RefusedPackage, package_crls
from receipts.transmission.package_stream import open_package
from receipts.transmission.received_fragment import match_listed, read_fragment
from receipts.transmission.received_receipts import (
    ListingCheck,
    ReceiptStore,
    check_listing,
    listed_members,
    stamp_unstamped,
)
from receipts.transmission.received_shares import ReceivedShares
from receipts.transmission.received_stock import (
    check_allocations,
    record_allocation,
    register_organisation,
    registry_entries,
)
from receipts.transmission.stamped_here import StampedHere
from receipts.transmission.verify_pool import Member, Verified, verified_chunks, verify_chunk
from receipts.transmission.write_offs import (
    close_written_off,
    write_offs_in,
)
from receipts.tsa.stamping import Stamper
from signing.seal import verify_seal
from signing.trust import ChainValidator
from signing.xades_t import (
    DEFAULT_TOLERANCE,
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
    statements: int = 0
    """Settlement statements the package carried that this ledger had not imported."""


def import_package(
    db: Database,
    source: Path | bytes,
    validator: ChainValidator,
    signer: ReceiptSigner,
    what: str,
    *,
    stamper: Stamper | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    settings: ImportSettings | None = None,
    verify: Callable[[list[Member]], list[Verified]] = verify_chunk,
) -> ImportResult:
    """Import the package ``source`` (a file, read member by member; or bytes received) sent to
    this federation; refuse it whole on any problem.

    Receipts may travel time-stamped (XAdES-T): the time-stamp is verified with the receipt
    (``tolerance``: how far its claimed signing time may lie before it) and kept beside it.
    ``stamper`` (this tier's own authority) time-stamps those that arrive without one.
    ``settings``: the package limits, verifying workers and chunk size (``[transmission]``);
    ``verify`` is what a worker runs on a chunk (a test passes one that crashes).
    """
    settings = settings or ImportSettings()
    with open_package(source, validator, what, settings) as package:
        manifest, members = package.manifest, package.members
        _check_sender(manifest, package.signer, signer.org_code, what)
        check_listing(package)
        allocations = check_allocations(manifest, members, validator, what)
        registry = registry_entries(members, manifest.sender, what)
        crls = package_crls(members, validator, what)
        statements = check_statements(manifest, members, validator, signer.org_code, what)
        with db.read() as session:
            if _imported_before(session, manifest):
                return _again(manifest, signer, crls)
        # Before the transaction: the authority records its serials in a transaction of its own.
        stamped_here = stamp_unstamped(package, stamper) if stamper is not None else StampedHere()
        with db.write() as (session, state):
            if _imported_before(session, manifest):
                return _again(manifest, signer, crls)
            peer = session.get(PeerHead, manifest.sender)
            fragment = read_fragment(
                package.event_lines(), manifest, held_head(session, manifest.sender, what), what
            )
            match_listed(fragment, manifest, what)
            match_statements(fragment.others, statements, what)
            for allocation, document in allocations:
                record_allocation(session, state, allocation, document, manifest.sender)
            for entry in registry:
                register_organisation(session, state, entry)
            shared = ReceivedShares(session, what)
            store = ReceiptStore(session, state, manifest.sender, what, shared)
            listing = ListingCheck(manifest, validator, stamped_here, what, fragment)
            # Workers only for more than a chunk: starting them costs more than one chunk.
            workers = settings.worker_count if manifest.receipt_count > settings.chunk else 0
            with verified_chunks(
                listed_members(package, listing.pending),
                validator,
                tolerance,
                workers=workers,
                chunk=settings.chunk,
                verify=verify,
            ) as chunks:
                for chunk in chunks:
                    store.store(listing.check(chunk))
            listing.finish()
            # After the receipts: a write-off is checked against every receipt of its segment.
            write_offs = write_offs_in(fragment.others, what)
            closed = close_written_off(
                session, state, write_offs, manifest.sender, signer.org_code, what
            )
            settled = record_statements(session, state, statements)
            now = datetime.now(UTC).replace(microsecond=0)
            _keep_peer_head(session, peer, manifest, package.signer, now)
            _record_received(session, state, manifest, manifest.receipt_count, store.added, now)
            sign_head(session, state, signer)
    ack = build_acknowledgement(signer, manifest)
    return ImportResult(manifest, True, store.added, store.known, ack, crls, closed, settled)


def _imported_before(session: Session, manifest: Manifest) -> bool:
    query = select(Transmission.id).where(Transmission.digest == manifest.digest)
    return session.scalar(query) is not None


def _again(
    manifest: Manifest, signer: ReceiptSigner, crls: tuple[x509.CertificateRevocationList, ...]
) -> ImportResult:
    """A package imported before: nothing changes (its receipts are all known)."""
    ack = build_acknowledgement(signer, manifest)
    return ImportResult(manifest, False, 0, manifest.receipt_count, ack, crls)


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
