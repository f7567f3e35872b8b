"""``receipts audit``: recompute the event chain, check the signed heads, and re-derive every
other table from the signed XML and the events (SPEC §5). Findings are data, not exceptions.

What each check catches: an edited event (its hash), a deleted or reordered event (sequence and
links), a truncated tail (a signed head beyond the chain, or the tip row), an edited receipt
(its digest against its event, its fields against its XML), a deleted or inserted row (rows
without events, events without rows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import ReceiptError
from receipts.issuing.issue import item_columns, receipt_columns
from receipts.ledger.database import Database
from receipts.ledger.events import event_hash, head_message, rfc3339
from receipts.ledger.migrate import GENESIS_HASH
from receipts.ledger.models import (
    Booking,
    ChainHead,
    ClientReference,
    Event,
    LedgerState,
    NumberCounter,
    PeriodClose,
    ReceiptItemRow,
    ReceiptRow,
    Segment,
)
from receipts.pki.ledger_key import identifier_of
from signing.seal import verify_seal

__all__ = ["RECEIPT_EVENTS", "AuditFinding", "AuditReport", "audit"]

#: Events through which a receipt's signed XML enters a ledger.
RECEIPT_EVENTS = frozenset(
    {"receipt.issued", "booking.recorded", "receipt.imported", "receipt.restored"}
)

_RECEIPT_FIELDS = (
    "digest",
    "issuer",
    "kind",
    "issued_at",
    "period",
    "check_code",
    "payer_name",
    "payer_kind",
    "payer_id",
    "total_fen",
    "original_code",
    "original_number",
)


@dataclass(frozen=True)
class AuditFinding:
    """One problem the audit found."""

    code: str
    """Stable code: ``chain-broken``, ``head-invalid``, ``receipt-mismatch``…"""
    message: str
    """What and where, in a sentence."""


@dataclass(frozen=True)
class AuditReport:
    """Everything the audit checked and found."""

    events: int
    """Events in the chain."""
    signed_heads: int
    """Signed heads checked."""
    receipts: int
    """Receipts re-derived."""
    unanchored: int
    """Events after the last signed head (made before the workspace had a signing key)."""
    findings: tuple[AuditFinding, ...]
    """Problems; empty when the ledger is intact."""

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def audit(db: Database, org_code: str) -> AuditReport:
    """Audit the whole ledger of ``org_code``."""
    with db.read() as session:
        findings: list[AuditFinding] = []
        events = list(session.scalars(select(Event).order_by(Event.seq)))
        findings += _check_chain(session, events)
        heads, unanchored = _check_heads(session, events, org_code, findings)
        findings += _check_receipts(session, events)
        findings += _check_segments(session, events)
        findings += _check_rows_from_events(session, events)
        receipts = len(
            {
                (p["code"], p["number"])
                for e in events
                if e.kind in RECEIPT_EVENTS
                for p in [json.loads(e.payload)]
            }
        )
        return AuditReport(len(events), heads, receipts, unanchored, tuple(findings))


def _check_chain(session: Session, events: list[Event]) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(events, 1):
        if event.seq != expected_seq:
            out.append(
                AuditFinding(
                    "chain-broken",
                    f"event {expected_seq} is missing (found {event.seq} in its place)",
                )
            )
            return out
        if event.prev_hash != prev:
            out.append(
                AuditFinding(
                    "chain-broken",
                    f"event {event.seq} does not link to event "
                    f"{event.seq - 1} (reordered or replaced)",
                )
            )
            return out
        recomputed = event_hash(prev, event.seq, rfc3339(event.at), event.kind, event.payload)
        if recomputed != event.hash:
            out.append(
                AuditFinding(
                    "event-altered",
                    f"event {event.seq} ({event.kind}) was "
                    "altered: its hash does not match its content",
                )
            )
            return out
        prev = event.hash
    state = session.get(LedgerState, 1)
    if state is None or state.event_count != len(events) or state.head_hash != prev:
        count = state.event_count if state else "no"
        out.append(
            AuditFinding(
                "chain-truncated",
                f"the ledger's tip says {count} events, the chain has {len(events)}",
            )
        )
    return out


def _check_heads(
    session: Session, events: list[Event], org_code: str, findings: list[AuditFinding]
) -> tuple[int, int]:
    heads = list(session.scalars(select(ChainHead).order_by(ChainHead.event_count)))
    by_seq = {e.seq: e for e in events}
    anchored = 0
    for head in heads:
        event = by_seq.get(head.event_count)
        if event is None:
            findings.append(
                AuditFinding(
                    "chain-truncated",
                    f"a signed head covers {head.event_count}"
                    f" events but the chain has only {len(events)}",
                )
            )
            continue
        if event.hash != head.head_hash:
            findings.append(
                AuditFinding(
                    "head-mismatch",
                    f"the signed head at event {head.event_count} does not match the chain",
                )
            )
            continue
        if not _head_signature_ok(head, org_code):
            findings.append(
                AuditFinding(
                    "head-invalid",
                    f"the signature of the head at event {head.event_count} does not verify",
                )
            )
            continue
        anchored = max(anchored, head.event_count)
    unanchored = len(events) - anchored
    if heads and unanchored:
        # Every transaction signs its head once the workspace has a key: events past the last
        # signed head were written around the ledger, not through it.
        findings.append(
            AuditFinding(
                "unsigned-tail",
                f"{unanchored} event(s) after the last signed head (event {anchored}) carry no "
                "signature",
            )
        )
    return len(heads), unanchored


def _head_signature_ok(head: ChainHead, org_code: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(head.certificate)
        if identifier_of(cert) != org_code:
            return False
        return verify_seal(
            cert, head_message(org_code, head.event_count, head.head_hash), head.signature
        )
    except (ValueError, ReceiptError, Exception):  # any unreadable head is simply not valid
        return False


def _payloads(events: list[Event], kind: str) -> Iterator[tuple[Event, dict[str, Any]]]:
    for event in events:
        if event.kind == kind:
            yield event, json.loads(event.payload)


def _check_receipts(session: Session, events: list[Event]) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    # A receipt enters a ledger by being issued here, booked here (a payer's ledger) or
    # imported from a lower tier; each of those events names its code, number and digest.
    expected: dict[tuple[str, int], dict[str, Any]] = {}
    for event in events:
        if event.kind in RECEIPT_EVENTS:
            payload = json.loads(event.payload)
            expected.setdefault((payload["code"], payload["number"]), payload)
    rows = {(r.code, r.number): r for r in session.scalars(select(ReceiptRow))}
    items: dict[tuple[str, int], list[ReceiptItemRow]] = {}
    for item in session.scalars(select(ReceiptItemRow).order_by(ReceiptItemRow.line)):
        items.setdefault((item.code, item.number), []).append(item)
    for key in sorted(set(rows) - set(expected)):
        out.append(
            AuditFinding(
                "receipt-unrecorded",
                f"receipt {key[0]}-{key[1]:010d} has no issue event (inserted outside the ledger)",
            )
        )
    for key, payload in sorted(expected.items()):
        label = f"{key[0]}-{key[1]:010d}"
        row = rows.get(key)
        if row is None:
            out.append(
                AuditFinding("receipt-missing", f"receipt {label} was issued but its row is gone")
            )
            continue
        if hashlib.sha256(row.xml).hexdigest() != payload["digest"]:
            out.append(
                AuditFinding(
                    "receipt-altered",
                    f"receipt {label}: its XML is not the one "
                    "issued (digest differs from the event)",
                )
            )
            continue
        try:
            receipt = parse_receipt_xml(row.xml)
        except ReceiptError as exc:
            out.append(AuditFinding("receipt-altered", f"receipt {label}: {exc}"))
            continue
        derived = receipt_columns(receipt, row.xml, payload["digest"])
        for name in _RECEIPT_FIELDS:
            if derived[name] != getattr(row, name):
                out.append(
                    AuditFinding(
                        "receipt-mismatch",
                        f"receipt {label}: column {name} is "
                        f"{getattr(row, name)!r}, the signed XML says {derived[name]!r}",
                    )
                )
        want = [
            (i["line"], i["item_code"], i["item_period"], i["amount_fen"])
            for i in item_columns(receipt)
        ]
        have = [(i.line, i.item_code, i.item_period, i.amount_fen) for i in items.get(key, [])]
        if want != have:
            out.append(
                AuditFinding(
                    "receipt-mismatch", f"receipt {label}: its item rows differ from the signed XML"
                )
            )
    orphans = sorted(set(items) - set(expected))
    for key in orphans:
        out.append(
            AuditFinding(
                "receipt-unrecorded",
                f"item rows of {key[0]}-{key[1]:010d} belong to no issued receipt",
            )
        )
    return out


def _check_segments(session: Session, events: list[Event]) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    expected = {
        p["digest"]: p
        for kind in ("stock.allocated", "stock.imported", "stock.recorded")
        for _, p in _payloads(events, kind)
    }
    written_off = {(p["code"], p["first"]) for _, p in _payloads(events, "stock.written_off")}
    rows = {s.digest: s for s in session.scalars(select(Segment))}
    for digest in sorted(set(rows) - set(expected)):
        seg = rows[digest]
        out.append(
            AuditFinding(
                "segment-unrecorded",
                f"segment {seg.code}:{seg.first}-{seg.last} has no allocation event",
            )
        )
    for digest, p in expected.items():
        label = f"{p['code']}:{p['first']}-{p['last']}"
        found = rows.get(digest)
        if found is None:
            out.append(AuditFinding("segment-missing", f"segment {label} is gone"))
            continue
        seg = found
        actual = (
            seg.code,
            seg.first,
            seg.last,
            seg.holder,
            seg.allocated_by,
            hashlib.sha256(seg.document).hexdigest(),
        )
        if actual != (p["code"], p["first"], p["last"], p["holder"], p["allocator"], digest):
            out.append(
                AuditFinding(
                    "segment-mismatch", f"segment {label} differs from its allocation event"
                )
            )
        if (seg.written_off_at is not None) != ((seg.code, seg.first) in written_off):
            out.append(
                AuditFinding(
                    "segment-mismatch", f"segment {label}: write-off status differs from the events"
                )
            )
    return out


def _check_rows_from_events(session: Session, events: list[Event]) -> list[AuditFinding]:
    """Counters, client references, period closes and bookings against the events."""
    out: list[AuditFinding] = []
    highest: dict[tuple[str, str], int] = {}
    refs: dict[tuple[str, str], tuple[str, int, str]] = {}
    for _, p in _payloads(events, "receipt.issued"):
        key = (p["issuer"], p["code"])
        highest[key] = max(highest.get(key, 0), p["number"])
        if "client_ref" in p:
            refs[(p["issuer"], p["client_ref"])] = (p["code"], p["number"], p["request_sha256"])
    for counter in session.scalars(select(NumberCounter)):
        if highest.get((counter.issuer, counter.code)) != counter.last_number:
            out.append(
                AuditFinding(
                    "counter-mismatch",
                    f"the number counter of {counter.issuer} "
                    f"under {counter.code} says {counter.last_number}, the events "
                    f"{highest.get((counter.issuer, counter.code), 0)}",
                )
            )
    stored = {(r.issuer, r.reference): r for r in session.scalars(select(ClientReference))}
    for key in sorted(set(stored) | set(refs)):
        row, want = stored.get(key), refs.get(key)
        have = (
            (row.code, row.number, hashlib.sha256(row.request.encode()).hexdigest())
            if row
            else None
        )
        if have != want:
            out.append(
                AuditFinding(
                    "reference-mismatch",
                    f"client reference {key[1]} of {key[0]} differs from the events",
                )
            )
    closes = {p["period"] for _, p in _payloads(events, "period.closed")}
    closed_rows = {r.period for r in session.scalars(select(PeriodClose))}
    if closes != closed_rows:
        out.append(
            AuditFinding(
                "period-mismatch",
                f"closed periods {sorted(closed_rows)} differ from the events {sorted(closes)}",
            )
        )
    booked = {e.seq: p for e, p in _payloads(events, "booking.recorded")}
    undone = {p["booking_seq"] for _, p in _payloads(events, "booking.undone")}
    for booking in session.scalars(select(Booking)):
        recorded = booked.pop(booking.event_seq, None)
        facts = (booking.code, booking.number, booking.digest, booking.voucher, booking.amount_fen)
        if recorded is None or facts != (
            recorded["code"],
            recorded["number"],
            recorded["digest"],
            recorded["voucher"],
            recorded["amount_fen"],
        ):
            out.append(
                AuditFinding(
                    "booking-mismatch",
                    f"booking of {booking.code}-{booking.number:010d} differs from its event",
                )
            )
        elif (booking.undone_at is not None) != (booking.event_seq in undone):
            out.append(
                AuditFinding(
                    "booking-mismatch",
                    f"booking of {booking.code}-"
                    f"{booking.number:010d}: undo status differs from the events",
                )
            )
    for seq in sorted(booked):
        out.append(AuditFinding("booking-missing", f"the booking recorded by event {seq} is gone"))
    return out
