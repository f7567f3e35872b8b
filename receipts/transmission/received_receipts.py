"""The receipts of a received package (docs/formats.md, transmission): each checked against the
manifest, its signature (and time-stamp) and the sender's events before anything is written, then
stored with its shares and its ``receipt.imported`` event (:mod:`receipts.transmission.receive`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.model import Receipt
from receipts.domain.money import to_fen
from receipts.issuing.receipt_rows import (
    item_columns,
    receipt_columns,
)
from receipts.ledger.events import next_event
from receipts.ledger.models import (
    Event,
    ReceiptItemRow,
    ReceiptRow,
    ReceiptShareRow,
    Segment,
)
from receipts.transmission.package import Manifest, RefusedPackage
from receipts.transmission.received_shares import ReceivedShares
from receipts.transmission.write_offs import check_not_written_off
from receipts.tsa.stamping import Stamper, record_token, tokens_for
from receipts.verify.receipt import verify_receipt_xml
from signing.result import Finding
from signing.timestamps import TimeStampError, check_token
from signing.trust import ChainValidator
from signing.xades_t import (
    DEFAULT_TOLERANCE,
    TimestampError,
    signature_timestamp_input,
    split_signature_timestamp,
)

__all__ = [
    "Checked",
    "check_receipts",
    "match_events",
    "stamped_here",
    "store_receipts",
    "store_tokens",
]


@dataclass(frozen=True)
class Checked:
    receipt: Receipt
    xml: bytes
    """The receipt as issued (a signature time-stamp it travelled with taken out)."""
    digest: str
    token: bytes | None = None
    """Its signature time-stamp (verified), from the package or this tier's authority."""


def check_receipts(
    manifest: Manifest,
    members: dict[str, bytes],
    validator: ChainValidator,
    what: str,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> list[Checked]:
    out: list[Checked] = []
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
        out.append(Checked(receipt, issued, listed.digest, token))
    stated = {k: (c, to_fen(t)) for k, (c, t) in manifest.issuers.items()}
    if stated != {k: (v[0], v[1]) for k, v in counts.items()}:
        raise RefusedPackage(f"{what}: the counts and totals per issuer do not match the receipts")
    return out


def stamped_here(
    checked: list[Checked], stamper: Stamper, validator: ChainValidator, what: str
) -> list[Checked]:
    """``checked`` with a token from this tier's authority for each receipt that came without
    one (before the import's transaction: the authority logs its serials on its own)."""
    out: list[Checked] = []
    for c in checked:
        if c.token is None:
            try:
                token = stamper(signature_timestamp_input(c.xml))
            except TimeStampError as exc:
                message = f"{what}: this tier's time-stamp authority failed: {exc}"
                raise RefusedPackage(message) from None
            c = Checked(c.receipt, c.xml, c.digest, token)
        out.append(c)
    return out


def store_tokens(
    session: Session, state: Any, checked: list[Checked], validator: ChainValidator
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


def store_receipts(
    session: Session,
    state: Any,
    checked: list[Checked],
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


def match_events(events: list[dict[str, Any]], manifest: Manifest, what: str) -> None:
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
