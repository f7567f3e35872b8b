"""Exporting to the tier above: everything it has not acknowledged, as one package (zip).

A package holds a signed manifest (:mod:`receipts.transmission.package`), the sender's events
not yet acknowledged (``events.jsonl``: the chain fragment, whose signed head the tier above
keeps as its outside copy of the sender's ledger), the signed receipts those events issued or
imported, and, for a province forwarding its children's receipts, what the national tier needs
to check them: the children's signed allocations, registry entries and CRLs; and the signed
allocation of every segment this federation allocated that its events write off, and the signed
settlement statements its events made (docs/formats.md, docs/settlement.md).

The package is written to its file as it is read from the ledger (docs/operations.md,
"Importing large packages"): the events a page at a time, then the receipts in code and number
order a chunk at a time, each member as it is made (:class:`receipts.support.zip_writer.
ZipWriter`), the listing spooled to a temporary file; what stays in memory per receipt is its
number (8 bytes), so a package of a million receipts takes tens of MB, not gigabytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.money import from_fen
from receipts.errors import ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.events import canonical_json, head_message
from receipts.ledger.models import Event, OrganisationRow, ReceiptRow, Segment, Transmission
from receipts.ledger.receipt_key import year_of_code
from receipts.pki.signer import ReceiptSigner
from receipts.support.zip_writer import ZipWriter
from receipts.transmission.acknowledgement import ACK_EVENT
from receipts.transmission.carried_statements import MADE_EVENT, add_statements
from receipts.transmission.chain_fragment import events_jsonl
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

__all__ = ["NothingToSend", "export_package", "write_package"]

#: Events whose receipts travel in a package.
_CARRIES_RECEIPT = ("receipt.issued", "receipt.imported")
#: Events read at a time, and receipts (with their time-stamps) read at a time.
_EVENT_PAGE = 2000
_RECEIPT_CHUNK = 500
_NUMBERS = 10**10


class NothingToSend(ReceiptError):
    """Everything was acknowledged already."""

    exit_code = 0


@dataclass
class _Fragment:
    """What the events' pass keeps for the rest of the package."""

    first: Event | None = None
    last: Event | None = None
    receipts: array[int] = field(default_factory=lambda: array("q"))
    """The receipts the events issued or imported, ``CODE * 10^10 + NUMBER``."""
    kept: list[Event] = field(default_factory=list)
    """The write-off and settlement events (their allocations and statements travel)."""


@dataclass
class _Receipts:
    """What the receipts' pass adds up."""

    totals: dict[str, list[int]] = field(default_factory=dict)
    """Receipt count and total in fen per issuer."""
    listed: list[ListedReceipt] = field(default_factory=list)
    """Version 1 only (its manifest lists them): the receipts."""
    digests: dict[str, str] = field(default_factory=dict)
    """Version 1 only: the receipts' members' digests."""


def export_package(
    db: Database,
    signer: ReceiptSigner,
    recipient: str,
    crls_pem: bytes = b"",
    *,
    version: int = VERSION,
) -> tuple[bytes, Manifest]:
    """:func:`write_package` into memory: the package's bytes (a small package; tests)."""
    buffer = io.BytesIO()
    manifest = write_package(buffer, db, signer, recipient, crls_pem, version=version)
    return buffer.getvalue(), manifest


def write_package(
    target: IO[bytes],
    db: Database,
    signer: ReceiptSigner,
    recipient: str,
    crls_pem: bytes = b"",
    *,
    version: int = VERSION,
) -> Manifest:
    """Everything the tier above has not acknowledged, as one package written to ``target``
    (a seekable binary file, at its start); ``version`` 1 lists the receipts in the manifest
    (what a tier above not yet upgraded reads). Raises :class:`NothingToSend` before writing
    anything when only acknowledgements are left."""
    me = signer.org_code
    zip_file = ZipWriter(target)
    digests: dict[str, str] = {}
    with db.read() as session:
        fragment = _write_events(session, _acknowledged(session), zip_file, digests)
        with tempfile.TemporaryFile() as listing:
            receipts = _write_receipts(session, fragment.receipts, zip_file, listing, version)
            if version != 1:
                listing.seek(0)
                with zip_file.stream(LISTING) as sink:
                    shutil.copyfileobj(listing, sink)
                digests[LISTING] = sink.digest()
        members: dict[str, bytes] = {}
        _add_children(session, me, sorted(receipts.totals), members)
        _add_written_off(session, me, fragment.kept, members)
        add_statements(session, fragment.kept, members)
    if crls_pem:
        members["crls.pem"] = crls_pem
    for name in sorted(members):
        digests[name] = zip_file.add(name, members[name])
    digests |= receipts.digests
    first, last = fragment.first, fragment.last
    assert first is not None and last is not None  # _acknowledged found one to send
    head_signature = signer.sign(head_message(me, last.seq, last.hash))
    now = datetime.now(UTC).replace(microsecond=0)
    totals = receipts.totals
    root = manifest_element(
        me, recipient, now, first.seq, last.seq, last.hash, head_signature, totals,
        receipts.listed, {}, version, digests=digests,
    )  # fmt: skip
    manifest = signer.sign_document(root, now)
    zip_file.add("manifest.xml", manifest)
    zip_file.close()
    parsed = Manifest(
        me,
        recipient,
        now,
        first.seq,
        last.seq,
        last.hash,
        head_signature,
        {k: (v[0], from_fen(v[1])) for k, v in totals.items()},
        tuple(receipts.listed),
        digests,
        hashlib.sha256(manifest).hexdigest(),
        version,
    )
    _record_sent(db, parsed, sum(v[1] for v in totals.values()))
    return parsed


def _acknowledged(session: Session) -> int:
    """The last event the tier above acknowledged; refused when only acknowledgements
    follow it."""
    acked = (
        session.scalar(
            select(func.max(Transmission.last_seq)).where(
                Transmission.direction == "out", Transmission.acknowledged_at.is_not(None)
            )
        )
        or 0
    )
    news = select(Event.seq).where(Event.seq > acked, Event.kind != ACK_EVENT).limit(1)
    if session.scalar(news) is None:
        raise NothingToSend("nothing to transmit: the tier above has acknowledged everything")
    return acked


def _write_events(
    session: Session, acked: int, zip_file: ZipWriter, digests: dict[str, str]
) -> _Fragment:
    """``events.jsonl``, a page of events at a time; the receipts they carry, as numbers."""
    fragment = _Fragment()
    after = acked
    with zip_file.stream("events.jsonl") as sink:
        while page := list(
            session.scalars(
                select(Event).where(Event.seq > after).order_by(Event.seq).limit(_EVENT_PAGE)
            )
        ):
            sink.write(events_jsonl(page))
            for event in page:
                if event.kind in _CARRIES_RECEIPT:
                    fragment.receipts.append(_number(event))
                elif event.kind in (WRITE_OFF_EVENT, MADE_EVENT):
                    fragment.kept.append(event)
            fragment.first = fragment.first or page[0]
            fragment.last, after = page[-1], page[-1].seq
    digests["events.jsonl"] = sink.digest()
    return fragment


def _number(event: Event) -> int:
    """The receipt an event carries, as ``CODE * 10^10 + NUMBER`` (the listing's order)."""
    p = json.loads(event.payload)
    code, number = p["code"], p["number"]
    if not (len(code) == 8 and code.isdigit() and 0 <= number < _NUMBERS):
        raise RefusedPackage(f"event {event.seq} names receipt {code}-{number}: run receipts audit")
    return int(code) * _NUMBERS + int(number)


def _write_receipts(
    session: Session,
    numbers: array[int],
    zip_file: ZipWriter,
    listing: IO[bytes],
    version: int,
) -> _Receipts:
    """The signed receipts in code and number order, each with its signature time-stamp in it
    when it has one (XAdES-T; the listed digest stays the one of the receipt as issued, which
    the events name); their listing's lines to ``listing``."""
    ordered = array("q", sorted(numbers))
    found = _Receipts()
    for at in range(1, len(ordered)):
        if ordered[at] == ordered[at - 1]:
            twice = divmod(ordered[at], _NUMBERS)
            raise RefusedPackage(
                f"receipt {twice[0]:08d}-{twice[1]:010d} is carried by two events of this ledger: "
                "run receipts audit"
            )
    for start in range(0, len(ordered), _RECEIPT_CHUNK):
        keys = [
            (f"{n // _NUMBERS:08d}", n % _NUMBERS) for n in ordered[start : start + _RECEIPT_CHUNK]
        ]
        tokens = tokens_for(session, keys)
        rows = _rows_of(session, keys)
        for code, number in keys:
            row = rows.get((code, number))
            if row is None:
                raise RefusedPackage(
                    f"receipt {code}-{number:010d}, which an event to send issued or imported, "
                    "is missing from this ledger: run receipts audit"
                )
            name = f"receipts/{row.code}-{row.number:010d}.xml"
            digest = zip_file.add(name, stamped_xml(row.xml, tokens.get((row.code, row.number))))
            listed = ListedReceipt(row.code, row.number, row.issuer, row.digest)
            if version == 1:
                found.listed.append(listed)
                found.digests[name] = digest
            else:
                line = f"{row.code},{row.number:010d},{row.issuer},{row.digest}\n"
                listing.write(line.encode("ascii"))
            count_total = found.totals.setdefault(row.issuer, [0, 0])
            count_total[0] += 1
            count_total[1] += row.total_fen
        session.expunge_all()  # the chunk's rows (and their XML) are not needed again
    return found


def _add_children(session: Session, me: str, issuers: list[str], members: dict[str, bytes]) -> None:
    """The allocations of the issuers' segments and the registry entries of the city-tier
    issuers, for the tier above to check their receipts."""
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
        ]
        if children
        else []
    )
    if registry:
        members["registry.json"] = canonical_json({"organisations": registry}).encode()


def _add_written_off(
    session: Session, me: str, events: list[Event], members: dict[str, bytes]
) -> None:
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
            members[f"allocations/{segment.digest[:32]}.xml"] = segment.document


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


def _rows_of(session: Session, keys: list[tuple[str, int]]) -> dict[tuple[str, int], ReceiptRow]:
    """The ledger's rows of a chunk of keys: one SELECT a code, its year named so PostgreSQL
    reads that year's partition only (docs/operations.md, reads by key), instead of one
    primary-key read a receipt."""
    by_code: dict[str, list[int]] = {}
    for code, number in keys:
        by_code.setdefault(code, []).append(number)
    found: dict[tuple[str, int], ReceiptRow] = {}
    for code, numbers in by_code.items():
        query = select(ReceiptRow).where(ReceiptRow.code == code, ReceiptRow.number.in_(numbers))
        year = year_of_code(code)
        if year is not None:
            query = query.where(ReceiptRow.issue_year == year)
        for row in session.scalars(query):
            found[(row.code, row.number)] = row
    return found
