"""The audit of every table derived from the event chain: receipts and their items against the
signed XML their events name, and number segments, counters, client references, period closes
and bookings against their events (``docs/security.md``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.issuing.receipt_rows import item_columns, receipt_columns
from receipts.ledger.models import (
    Archive,
    Booking,
    ClientReference,
    Event,
    NumberCounter,
    PeriodClose,
    ReceiptItemRow,
    ReceiptRow,
    Segment,
)
from receipts.ledger.partitions import RECEIPT_EVENTS as ENTRY_EVENTS

__all__ = [
    "RECEIPT_EVENTS",
    "check_archives",
    "check_bookings",
    "check_counters_and_references",
    "check_periods",
    "check_receipts",
    "check_segments",
    "recorded_receipts",
]

#: Events through which a receipt's signed XML enters a ledger.
RECEIPT_EVENTS = ENTRY_EVENTS

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

_Key = tuple[str, int]


def _payloads(events: list[Event], kind: str) -> Iterator[tuple[Event, dict[str, Any]]]:
    for event in events:
        if event.kind == kind:
            yield event, json.loads(event.payload)


def recorded_receipts(events: list[Event]) -> dict[_Key, dict[str, Any]]:
    """(code, number) → the payload of the first event through which the receipt entered."""
    # A receipt enters a ledger by being issued here, booked here (a payer's ledger) or
    # imported from a lower tier; each of those events names its code, number and digest.
    expected: dict[_Key, dict[str, Any]] = {}
    for event in events:
        if event.kind in RECEIPT_EVENTS:
            payload = json.loads(event.payload)
            expected.setdefault((payload["code"], payload["number"]), payload)
    return expected


def check_receipts(
    session: Session, recorded: dict[_Key, dict[str, Any]], detached: Collection[_Key] = ()
) -> list[Finding]:
    """Every receipt row and item row against the event that recorded its receipt. A receipt
    of a year detached after it was recorded (``detached``) has no row here, by design
    (receipts.ledger.partitions): its archive was verified before the year left."""
    out: list[Finding] = []
    rows = {(r.code, r.number): r for r in session.scalars(select(ReceiptRow))}
    items: dict[_Key, list[ReceiptItemRow]] = {}
    for item in session.scalars(select(ReceiptItemRow).order_by(ReceiptItemRow.line)):
        items.setdefault((item.code, item.number), []).append(item)
    for key in sorted(set(rows) - set(recorded)):
        inserted = f"receipt {_label(key)} has no issue event (inserted outside the ledger)"
        out.append(Finding(FindingCode.RECEIPT_UNRECORDED, inserted))
    for key, payload in sorted(recorded.items()):
        row = rows.get(key)
        if row is None and key in detached:
            continue
        if row is None:
            gone = f"receipt {_label(key)} was issued but its row is gone"
            out.append(Finding(FindingCode.RECEIPT_MISSING, gone))
        else:
            out += _check_receipt(key, payload["digest"], row, items.get(key, []))
    for key in sorted(set(items) - set(recorded)):
        orphans = f"item rows of {_label(key)} belong to no issued receipt"
        out.append(Finding(FindingCode.RECEIPT_UNRECORDED, orphans))
    return out


def _check_receipt(
    key: _Key, digest: str, row: ReceiptRow, items: list[ReceiptItemRow]
) -> list[Finding]:
    """One receipt's row and item rows against its signed XML, which must be the recorded one."""
    label = _label(key)
    if hashlib.sha256(row.xml).hexdigest() != digest:
        replaced = f"receipt {label}: its XML is not the one issued (digest differs from the event)"
        return [Finding(FindingCode.RECEIPT_ALTERED, replaced)]
    try:
        receipt = parse_receipt_xml(row.xml)
    except ReceiptError as exc:
        return [Finding(FindingCode.RECEIPT_ALTERED, f"receipt {label}: {exc}")]
    out: list[Finding] = []
    derived = receipt_columns(receipt, row.xml, digest)
    for name in _RECEIPT_FIELDS:
        if derived[name] != getattr(row, name):
            edited = (
                f"receipt {label}: column {name} is {getattr(row, name)!r}, the signed XML says "
                f"{derived[name]!r}"
            )
            out.append(Finding(FindingCode.RECEIPT_MISMATCH, edited))
    want = [
        (i["line"], i["item_code"], i["item_period"], i["amount_fen"])
        for i in item_columns(receipt)
    ]
    have = [(i.line, i.item_code, i.item_period, i.amount_fen) for i in items]
    if want != have:
        differ = f"receipt {label}: its item rows differ from the signed XML"
        out.append(Finding(FindingCode.RECEIPT_MISMATCH, differ))
    return out


def _label(key: _Key) -> str:
    return f"{key[0]}-{key[1]:010d}"


def check_segments(session: Session, events: list[Event]) -> list[Finding]:
    """Every number segment row against the event that allocated, imported or recorded it, and
    its write-off status against the write-off events."""
    out: list[Finding] = []
    expected = {
        p["digest"]: p
        for kind in ("stock.allocated", "stock.imported", "stock.recorded")
        for _, p in _payloads(events, kind)
    }
    written_off = {(p["code"], p["first"]) for _, p in _payloads(events, "stock.written_off")}
    rows = {s.digest: s for s in session.scalars(select(Segment))}
    for digest in sorted(set(rows) - set(expected)):
        seg = rows[digest]
        unrecorded = f"segment {seg.code}:{seg.first}-{seg.last} has no allocation event"
        out.append(Finding(FindingCode.SEGMENT_UNRECORDED, unrecorded))
    for digest, p in expected.items():
        label = f"{p['code']}:{p['first']}-{p['last']}"
        found = rows.get(digest)
        if found is None:
            out.append(Finding(FindingCode.SEGMENT_MISSING, f"segment {label} is gone"))
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
            differs = f"segment {label} differs from its allocation event"
            out.append(Finding(FindingCode.SEGMENT_MISMATCH, differs))
        if (seg.written_off_at is not None) != ((seg.code, seg.first) in written_off):
            status = f"segment {label}: write-off status differs from the events"
            out.append(Finding(FindingCode.SEGMENT_MISMATCH, status))
    return out


def check_counters_and_references(session: Session, events: list[Event]) -> list[Finding]:
    """Number counters and batch client references against the issue events."""
    out: list[Finding] = []
    highest: dict[tuple[str, str], int] = {}
    refs: dict[tuple[str, str], tuple[str, int, str]] = {}
    for _, p in _payloads(events, "receipt.issued"):
        key = (p["issuer"], p["code"])
        highest[key] = max(highest.get(key, 0), p["number"])
        if "client_ref" in p:
            refs[(p["issuer"], p["client_ref"])] = (p["code"], p["number"], p["request_sha256"])
    for counter in session.scalars(select(NumberCounter)):
        used = highest.get((counter.issuer, counter.code))
        if used != counter.last_number:
            rewound = (
                f"the number counter of {counter.issuer} under {counter.code} says "
                f"{counter.last_number}, the events {used or 0}"
            )
            out.append(Finding(FindingCode.COUNTER_MISMATCH, rewound))
    stored = {(r.issuer, r.reference): r for r in session.scalars(select(ClientReference))}
    for key in sorted(set(stored) | set(refs)):
        row, want = stored.get(key), refs.get(key)
        have = (
            (row.code, row.number, hashlib.sha256(row.request.encode()).hexdigest())
            if row
            else None
        )
        if have != want:
            rewritten = f"client reference {key[1]} of {key[0]} differs from the events"
            out.append(Finding(FindingCode.REFERENCE_MISMATCH, rewritten))
    return out


def check_periods(session: Session, events: list[Event]) -> list[Finding]:
    """The closed periods against the period-close and -reopen events, replayed in order: each
    close row names its latest close event; a reopen follows a close and precedes any archive
    of the month (receipts.issuing.periods)."""
    closes: dict[str, int] = {}
    archived: set[str] = set()
    out: list[Finding] = []
    for event in events:
        if event.kind not in ("period.closed", "period.reopened", "archive.created"):
            continue
        payload = json.loads(event.payload)
        if event.kind == "archive.created":
            archived |= set(payload["months"]) if payload.get("kind") == "main" else set()
        elif event.kind == "period.closed":
            closes[payload["period"]] = event.seq
        elif closes.pop(month := payload["period"], None) is None or month in archived:
            state = "archived" if month in archived else "not closed"
            wrong = f"event {event.seq} reopens {month}, which was {state}"
            out.append(Finding(FindingCode.PERIOD_MISMATCH, wrong))
    rows = {r.period: r.event_seq for r in session.scalars(select(PeriodClose))}
    if rows != closes:
        differ = f"closed periods {sorted(rows)} differ from the events {sorted(closes)}"
        if set(rows) == set(closes):
            differ = f"closed periods {sorted(rows)} name other close events than the log's"
        out.append(Finding(FindingCode.PERIOD_MISMATCH, differ))
    return out


def check_archives(session: Session, events: list[Event]) -> list[Finding]:
    """Every archive row against its ``archive.created`` event, and no event without its row:
    the rows say which months are archived (a receipt's "archived", a month that may not be
    reopened), so an edited row changed both with nothing in the log to show."""
    recorded = {
        e.seq: (p["label"], ",".join(p["months"]), p["kind"], p["digest"], int(p["receipts"]))
        for e, p in _payloads(events, "archive.created")
    }
    out: list[Finding] = []
    for row in session.scalars(select(Archive).order_by(Archive.event_seq)):
        facts = (row.label, row.months, row.kind, row.digest, row.receipts)
        if recorded.pop(row.event_seq, None) != facts:
            differs = f"archive {row.label} ({row.kind}) differs from its event {row.event_seq}"
            out.append(Finding(FindingCode.ARCHIVE_MISMATCH, differs))
    for seq, (label, _months, kind, _digest, _count) in sorted(recorded.items()):
        gone = f"event {seq} records archive {label} ({kind}), which has no row"
        out.append(Finding(FindingCode.ARCHIVE_MISMATCH, gone))
    return out


def check_bookings(session: Session, events: list[Event]) -> list[Finding]:
    """Every booking row, and its undo status, against the events that recorded and undid it."""
    out: list[Finding] = []
    booked = {e.seq: p for e, p in _payloads(events, "booking.recorded")}
    undone = {p["booking_seq"] for _, p in _payloads(events, "booking.undone")}
    for booking in session.scalars(select(Booking)):
        recorded = booked.pop(booking.event_seq, None)
        facts = (booking.code, booking.number, booking.digest, booking.voucher, booking.amount_fen)
        label = f"{booking.code}-{booking.number:010d}"
        if recorded is None or facts != (
            recorded["code"],
            recorded["number"],
            recorded["digest"],
            recorded["voucher"],
            recorded["amount_fen"],
        ):
            differs = f"booking of {label} differs from its event"
            out.append(Finding(FindingCode.BOOKING_MISMATCH, differs))
        elif (booking.undone_at is not None) != (booking.event_seq in undone):
            status = f"booking of {label}: undo status differs from the events"
            out.append(Finding(FindingCode.BOOKING_MISMATCH, status))
    for seq in sorted(booked):
        gone = f"the booking recorded by event {seq} is gone"
        out.append(Finding(FindingCode.BOOKING_MISSING, gone))
    return out
