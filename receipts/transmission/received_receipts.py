"""The receipts of a received package (docs/formats.md, transmission), a chunk at a time: each
receipt verified (:mod:`receipts.transmission.verify_pool`) and held against the manifest's
listing, then stored with its shares, its time-stamp and its ``receipt.imported`` event by COPY
(:func:`receipts.issuing.receipt_rows.bulk_insert`), in the import's one transaction
(:mod:`receipts.transmission.receive`).

Per chunk, not per receipt: the receipts this ledger holds already are looked up with one query,
the segments every number must lie in are loaded once, and the rows go in with one COPY per
table; a receipt costs its verification (in a worker) and the building of its rows.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.model import Receipt
from receipts.domain.money import to_fen
from receipts.issuing.receipt_rows import bulk_insert, item_columns, receipt_columns
from receipts.ledger.events import next_event, rfc3339
from receipts.ledger.models import (
    Event,
    ReceiptItemRow,
    ReceiptRow,
    ReceiptShareRow,
    Segment,
)
from receipts.ledger.partitions import ensure_years
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from receipts.transmission.carried_receipts import Sharing
from receipts.transmission.package import ListedReceipt, Manifest, RefusedPackage
from receipts.transmission.package_stream import StreamedPackage, receipt_member
from receipts.transmission.received_fragment import Fragment
from receipts.transmission.received_held import held_digests
from receipts.transmission.received_shares import ReceivedShares
from receipts.transmission.stamped_here import StampedHere
from receipts.transmission.verify_pool import Member, Verified
from receipts.transmission.write_offs import check_not_written_off
from receipts.tsa.stamping import TIMESTAMP_EVENT, Stamper, tokens_for
from signing.result import Finding
from signing.timestamps import TimeStampError, TokenCheck, check_token
from signing.trust import ChainValidator
from signing.xades_t import TimestampError, signature_timestamp_input, split_signature_timestamp

__all__ = [
    "Checked",
    "ListingCheck",
    "ReceiptStore",
    "check_listing",
    "held_digests",
    "listed_members",
    "stamp_unstamped",
]


@dataclass(frozen=True)
class Checked:
    receipt: Receipt
    xml: bytes
    """The receipt as issued (a signature time-stamp it travelled with taken out)."""
    digest: str
    token: bytes | None = None
    """Its signature time-stamp (verified), from the package or this tier's authority."""
    token_check: TokenCheck | None = None
    """What the time-stamp says."""
    sharing: Sharing | None = None
    """The payer situation and sharing day the sender's event of it states, if it states any."""


def check_listing(package: StreamedPackage) -> None:
    """Before anything is written: every listed receipt was issued by the sender or one of its
    city-tier federations. Version 2: a first pass over ``receipts.csv`` (~91 bytes a receipt,
    cheap beside verifying them) that also checks its form, order (no duplicate), digest and
    counts per issuer, so a bad listing is refused before the transaction; the import's own
    pass checks it all again (a file could change between the two)."""
    if package.manifest.version != 1:
        for _ in package.listed():
            pass
        return
    manifest, what = package.manifest, package.what
    for listed in manifest.receipts:
        if listed.issuer != manifest.sender and (
            divisions.upstream_of(listed.issuer) != manifest.sender
        ):
            raise RefusedPackage(
                f"{what}: receipt {listed.code}-{listed.number:010d} was issued "
                f"by {listed.issuer}, which is neither {manifest.sender} nor "
                "one of its city-tier federations"
            )


def listed_members(
    package: StreamedPackage, pending: deque[ListedReceipt] | None = None
) -> Iterator[Member]:
    """The listed receipts' members in the listing's order, read as they are consumed; each
    listed receipt is appended to ``pending`` (for :class:`ListingCheck`, which takes them in
    the same order: only the chunks in flight are held)."""
    for listed in package.listed():
        if pending is not None:
            pending.append(listed)
        name = receipt_member(listed.code, listed.number)
        xml = package.receipt(name)
        if xml is None:
            raise RefusedPackage(f"{package.what}: {name} is missing")
        yield name, xml


def stamp_unstamped(package: StreamedPackage, stamper: Stamper) -> StampedHere:
    """A token from this tier's authority for each listed receipt that came without one, by
    member name, before the import's transaction (the authority logs its serials in a
    transaction of its own, which SQLite would have to wait for). The receipts are verified
    afterwards, with the others; the tokens wait on disk, in the listing's order.

    Only the receipt the signed listing names is stamped: a receipt member's bytes are held to
    their listed digest here, or the package is refused before the authority signs them (the
    members themselves are not signed, so anybody on the way could otherwise have this tier's
    authority sign, and log, whatever they put there, one signature a receipt)."""
    tokens = StampedHere()
    pending: deque[ListedReceipt] = deque()
    for name, xml in listed_members(package, pending):
        listed = pending.popleft()
        try:
            issued, token = split_signature_timestamp(xml)
        except TimestampError as exc:
            raise RefusedPackage(f"{package.what}: {name}: {exc}") from None
        if token is not None:
            continue
        if hashlib.sha256(issued).hexdigest() != listed.digest:
            raise RefusedPackage(
                f"{package.what}: {name} is not the listed receipt (refused before this tier's "
                "time-stamp authority signs it)"
            )
        try:
            tokens.add(name, stamper(signature_timestamp_input(issued)))
        except TimeStampError as exc:
            message = f"{package.what}: this tier's time-stamp authority failed: {exc}"
            raise RefusedPackage(message) from None
    return tokens


class ListingCheck:
    """Verified receipts held against the listing, in its order (``pending``: the listed
    receipts :func:`listed_members` has read, in that order); the counts and totals per issuer
    once every receipt has been seen. Version 2: the listed receipts are exactly the ones the
    sender's events issued, walked side by side with them in the same (code, number) order
    (``carried``, :class:`receipts.transmission.carried_receipts.CarriedReceipts`), and each
    takes the sharing its event states. Version 1's listing was matched to the events whole
    before (:func:`receipts.transmission.received_fragment.match_listed`), which gave the
    sharings by receipt (``fragment.v1_sharing``)."""

    def __init__(
        self,
        manifest: Manifest,
        validator: ChainValidator,
        stamped_here: StampedHere,
        what: str,
        fragment: Fragment,
    ) -> None:
        self.manifest, self.validator, self.what = manifest, validator, what
        self.stamped_here = stamped_here
        self.pending: deque[ListedReceipt] = deque()
        self.receipts = fragment.receipts
        self.carried_count = len(fragment.receipts)
        self.carried = fragment.receipts.in_order(what) if manifest.version != 1 else None
        self.v1_sharing = fragment.v1_sharing
        self.position = 0
        self.counts: dict[str, list[int]] = {}

    def check(self, chunk: list[Verified]) -> list[Checked]:
        """The next chunk, each receipt the one listed at its place."""
        out = []
        for v in chunk:
            listed = self.pending.popleft()
            out.append(self._one(listed, v, self._event_of(listed)))
        return out

    def _event_of(self, listed: ListedReceipt) -> Sharing | None:
        """The sharing the event of ``listed`` states; refused unless the next receipt the
        events carry, in (code, number) order, is ``listed`` itself."""
        self.position += 1
        if self.carried is None:
            return self.v1_sharing.get((listed.code, listed.number))
        carried = next(self.carried, None)
        if carried is not None and (carried.code, carried.number) < (listed.code, listed.number):
            raise RefusedPackage(
                f"{self.what}: the sender's events issued receipt {carried.code}-"
                f"{carried.number:010d} (event {carried.seq}), which is not listed"
            )
        if carried is None or (carried.code, carried.number, carried.digest) != (
            listed.code,
            listed.number,
            listed.digest,
        ):
            raise RefusedPackage(
                f"{self.what}: receipt {listed.code}-{listed.number:010d} is listed but the "
                "sender's events did not issue it"
            )
        return carried.sharing

    def finish(self) -> None:
        """After the last chunk: every listed receipt seen, and the counts and totals per
        issuer the manifest states are the receipts'."""
        extra = None if self.carried is None else next(self.carried, None)
        self.receipts.close()  # the walk is over: its temporary file goes
        unused = len(self.stamped_here)
        self.stamped_here.close()
        if unused:
            # The same bytes read twice (their digests are the listing's) cannot disagree on
            # carrying a time-stamp, unless the package changed under the import.
            raise RefusedPackage(
                f"{self.what}: {unused} receipt(s) this tier time-stamped as unstamped carried "
                "a time-stamp when verified"
            )
        if extra is not None:
            raise RefusedPackage(
                f"{self.what}: the receipts listed are not the ones the sender's events "
                f"issued ({self.position} listed, {self.carried_count} in the events)"
            )
        stated = {k: (c, to_fen(t)) for k, (c, t) in self.manifest.issuers.items()}
        if (
            self.pending
            or self.position != self.manifest.receipt_count
            or stated != {k: (v[0], v[1]) for k, v in self.counts.items()}
        ):
            raise RefusedPackage(
                f"{self.what}: the counts and totals per issuer do not match the receipts"
            )

    def _one(self, listed: ListedReceipt, v: Verified, sharing: Sharing | None) -> Checked:
        what, name = self.what, v.name
        if v.problem is not None or v.receipt is None:
            raise RefusedPackage(f"{what}: {name}: {v.problem}")
        if v.digest != listed.digest:
            raise RefusedPackage(f"{what}: {name} is not the listed receipt")
        receipt = v.receipt
        if (receipt.code, receipt.number, receipt.issuer.code) != (
            listed.code,
            listed.number,
            listed.issuer,
        ):
            raise RefusedPackage(f"{what}: {name} is not the receipt the manifest lists")
        tally = self.counts.setdefault(listed.issuer, [0, 0])
        tally[0] += 1
        tally[1] += to_fen(receipt.total)
        token, check = v.token, v.token_check
        stamped = self.stamped_here.take(name) if token is None else None
        if stamped is not None:
            token = stamped
            found = check_token(token, signature_timestamp_input(v.issued), self.validator)
            if isinstance(found, Finding):
                raise RefusedPackage(f"{what}: this tier's time-stamp of {name}: {found.message}")
            check = found
        return Checked(receipt, v.issued, listed.digest, token, check, sharing)


class ReceiptStore:
    """Stores checked receipts a chunk at a time in the import's transaction: those this ledger
    lacks with their rows, shares and events; a known number with other content refuses the
    package."""

    def __init__(
        self, session: Session, state: Any, sender: str, what: str, shared: ReceivedShares
    ) -> None:
        self.session, self.state, self.sender, self.what = session, state, sender, what
        self.shared = shared
        self.added = self.known = 0
        session.flush()  # segments this import recorded count too
        self.segments: dict[tuple[str, str], list[Segment]] = {}
        for segment in session.scalars(select(Segment).order_by(Segment.first)):
            self.segments.setdefault((segment.holder, segment.code), []).append(segment)
        self.firsts = {key: [s.first for s in found] for key, found in self.segments.items()}

    def store(self, checked: list[Checked]) -> None:
        """Store one chunk."""
        held = held_digests(self.session, [(c.receipt.code, c.receipt.number) for c in checked])
        events: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        stamps = self._stamps(checked, events)
        for c in checked:
            segment = self._segment(c.receipt)
            digest = held.get((c.receipt.code, c.receipt.number))
            if digest is not None:
                if digest != c.digest:
                    raise RefusedPackage(
                        f"{self.what}: receipt {c.receipt.ref} differs from the one "
                        "this ledger holds (same number, other content)"
                    )
                self.known += 1
                continue
            check_not_written_off(segment, c.receipt.ref, self.what)
            rows.append(receipt_columns(c.receipt, c.xml, c.digest))
            items.extend(item_columns(c.receipt))
            payload = {
                "code": c.receipt.code,
                "number": c.receipt.number,
                "digest": c.digest,
                "issuer": c.receipt.issuer.code,
                "from": self.sender,
                "sharing": self.shared.add(c.receipt, c.sharing),
            }
            events.append(next_event(self.state, "receipt.imported", payload))
            self.added += 1
        if rows:  # the partitions of the chunk's years (PostgreSQL), as every store path does
            ensure_years(self.session, {row["issue_year"] for row in rows})
        for table, values in (
            (Event, events),
            (ReceiptRow, rows),
            (ReceiptItemRow, items),
            (ReceiptShareRow, self.shared.rows),
            (ReceiptTimestampRow, stamps),
        ):
            if values:
                bulk_insert(self.session, table, values)
        self.shared.rows.clear()

    def _stamps(self, checked: list[Checked], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The time-stamp rows (and ``receipt.timestamped`` events) of the chunk's receipts
        this ledger has no time-stamp of."""
        stamped = [c for c in checked if c.token is not None and c.token_check is not None]
        have = tokens_for(self.session, [(c.receipt.code, c.receipt.number) for c in stamped])
        rows = []
        for c in stamped:
            key = (c.receipt.code, c.receipt.number)
            if key in have or c.token is None or c.token_check is None:
                continue
            digest = hashlib.sha256(c.token).hexdigest()
            payload = {
                "code": key[0],
                "number": key[1],
                "token": digest,
                "time": rfc3339(c.token_check.gen_time),
                "serial": f"{c.token_check.serial:x}",
            }
            event = next_event(self.state, TIMESTAMP_EVENT, payload)
            events.append(event)
            rows.append(
                {
                    "code": key[0],
                    "number": key[1],
                    "token": c.token,
                    "token_digest": digest,
                    "gen_time": c.token_check.gen_time,
                    "event_seq": event["seq"],
                }
            )
        return rows

    def _segment(self, receipt: Receipt) -> Segment:
        key = (receipt.issuer.code, receipt.code)
        firsts = self.firsts.get(key, [])
        at = bisect.bisect_right(firsts, receipt.number) - 1
        if at >= 0:
            segment = self.segments[key][at]
            if segment.first <= receipt.number <= segment.last:
                return segment
        raise RefusedPackage(
            f"{self.what}: receipt {receipt.ref} lies outside every segment "
            f"allocated to {receipt.issuer.code}"
        )
