"""Acknowledgements of transmission packages: the tier above signs one for each package it
imports (``schemas/transmission.xsd``, docs/formats.md), and the sender records it, so that its
next export starts after the acknowledged events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlalchemy import select

from receipts.domain import divisions
from receipts.domain.money import format_amount
from receipts.domain.signed_documents import verify_document
from receipts.ledger.database import Database
from receipts.ledger.events import append_event, sign_head
from receipts.ledger.models import Event, Transmission
from receipts.pki.signer import ReceiptSigner
from receipts.transmission.package import NS, Manifest, RefusedPackage
from signing.trust import ChainValidator

__all__ = ["ACK_EVENT", "AckResult", "build_acknowledgement", "record_acknowledgement"]

_T = f"{{{NS}}}"
#: The event a sender appends when the tier above acknowledges a package.
ACK_EVENT = "transmission.acknowledged"


@dataclass(frozen=True)
class AckResult:
    """What recording an acknowledgement did."""

    package: str
    """The acknowledged package's digest."""
    last_seq: int
    """The last event of ours the tier above now holds."""
    new: bool
    """False when it had been recorded before."""


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


def record_acknowledgement(
    db: Database, data: bytes, validator: ChainValidator, signer: ReceiptSigner, what: str
) -> AckResult:
    """Record the tier above's signed acknowledgement of a package we sent."""
    me = signer.org_code
    upstream = divisions.upstream_of(me)
    root, signer_org = verify_document(
        data, validator, expected_org=upstream, schema="transmission.xsd", what=what
    )
    if root.tag != _T + "Acknowledgement":
        raise RefusedPackage(f"{what} is not an acknowledgement")

    def text(name: str) -> str:
        return root.findtext(_T + name) or ""

    if text("To") != me or text("From") != signer_org:
        raise RefusedPackage(f"{what} acknowledges a package of {text('To')}, not ours")
    package, last = text("Package"), int(text("LastEvent"))
    with db.write() as (session, state):
        sent = session.scalars(
            select(Transmission).where(
                Transmission.digest == package, Transmission.direction == "out"
            )
        ).first()
        if sent is None:
            raise RefusedPackage(
                f"{what} acknowledges package {package[:12]}…, which this ledger did not send"
            )
        mine = session.get(Event, last)
        if sent.last_seq != last or mine is None or mine.hash != text("HeadHash"):
            raise RefusedPackage(f"{what}: the acknowledged chain head is not ours")
        if sent.acknowledged_at is not None:
            return AckResult(package, last, False)
        sent.acknowledged_at = datetime.now(UTC).replace(microsecond=0)
        sent.acknowledgement = data
        append_event(
            session,
            state,
            ACK_EVENT,
            {
                "package": package,
                "last": last,
                "head": text("HeadHash"),
                "by": signer_org,
                "ack_sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        sign_head(session, state, signer)
    return AckResult(package, last, True)
