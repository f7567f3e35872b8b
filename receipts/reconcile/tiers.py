"""Reconciliation between tiers (SPEC §6): this ledger's number-space summary, the summary and
request files, and the comparison of another side's summary with this ledger.

The exchange takes two rounds and carries data proportional to the differences:

1. side A writes a signed summary (``receipts reconcile summary -o a.xml``): per issuer and code
   its block summaries and Merkle roots (:mod:`receipts.reconcile.exchange`);
2. side B compares it with its own ledger (``receipts reconcile tiers --with a.xml``), names the
   receipts of blocks only it has, and writes a request for those blocks and the blocks that
   differ, with its own part fingerprints of each;
3. A answers (``reconcile summary --blocks a.request.xml -o a2.xml``) with a signed file stating
   only the requested blocks (reading only them), each with the listing of its differing parts;
4. B compares that file with the same blocks of its ledger (reading only them) and names every
   missing, extra and differing receipt.

Both rounds read each ledger's blocks once in the first round; the second reads only the
requested blocks, so its cost follows the differences.

A signed file is at most 1 MB (SPEC §3). A listing that would not fit is left for another round
(the blocks are named in ``Deferred`` and requested again).

The ledger is read by :mod:`receipts.reconcile.block_reader`, block by block, in one snapshot.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from lxml import etree

from receipts.domain import divisions
from receipts.domain.identifiers import format_number
from receipts.domain.money import format_amount, parse_amount
from receipts.domain.signed_documents import InvalidSignedDocument, verify_document
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.pki.signer import ReceiptSigner
from receipts.reconcile.block_reader import LedgerInconsistent, ledger_blocks, ledger_issuers
from receipts.reconcile.blocks import (
    BLOCK_SIZE,
    PARTS,
    Block,
    BlockKey,
    BlockSummary,
    Slot,
    merkle_root,
    part_of,
)
from receipts.reconcile.exchange import (
    BlockRequest,
    Listing,
    Summary,
    TierComparison,
    TierFinding,
    TierFindingKind,
    answer_request,
    compare_summary,
)
from schemas import load_schema
from signing.trust import ChainValidator
from signing.xmlparse import MAX_XML_BYTES, UnsafeXML, parse_untrusted

__all__ = [
    "RECONCILIATION_NS",
    "LedgerInconsistent",
    "SummaryResult",
    "TierResult",
    "make_summary",
    "read_request",
    "read_summary",
    "reconcile_tiers",
    "request_document",
]

RECONCILIATION_NS = "urn:union-dues-receipt:reconciliation:1"
_N = f"{{{RECONCILIATION_NS}}}"
#: A request is unsigned and may be larger than a signed file (fingerprints of many blocks).
MAX_REQUEST_BYTES = 16_000_000
# Serialised sizes used to keep a summary under MAX_XML_BYTES while it is being built.
_BLOCK_BYTES, _SLOT_BYTES, _RESERVE = 140, 130, 16_000


@dataclass(frozen=True)
class SummaryResult:
    """A summary of this ledger and its signed file."""

    summary: Summary
    """What the file states."""
    document: bytes
    """The signed XML."""
    ledger_events: int
    """The ledger's event count when it was read."""
    receipts: int
    """Receipts summarised."""
    requested: int
    """Blocks the request asked for (0 without one)."""


@dataclass(frozen=True)
class TierResult:
    """A summary file compared with this ledger."""

    comparison: TierComparison
    """Findings, requested blocks and counts."""
    theirs: Summary
    """The file's content."""
    our_root: str
    """This ledger's Merkle root over the same issuers."""
    file_bytes: int
    """Size of the file compared."""
    request: bytes | None
    """The request for the second round, when blocks remain to be listed."""


def make_summary(
    db: Database,
    signer: ReceiptSigner,
    issuers: Sequence[str] | None = None,
    request: bytes | None = None,
    now: datetime | None = None,
) -> SummaryResult:
    """Summarise this ledger (the request's issuers, else ``issuers``, else all) into a signed
    file, listing the blocks ``request`` asks for; the root is recorded in the event log."""
    wanted: dict[BlockKey, BlockRequest] = {}
    answering = None
    if request is not None:
        asked = read_request(request)
        if asked.to != signer.org_code:
            raise InvalidInput(f"the request is addressed to {asked.to}, not to {signer.org_code}")
        wanted, answering = {r.key: r for r in asked.blocks}, asked.answering
        issuers = issuers or asked.scope
    scope = tuple(sorted(set(issuers))) if issuers else ledger_issuers(db, signer.org_code)
    for issuer in scope:
        divisions.validate_division_code(issuer, what="issuer")
    if outside := sorted({key.issuer for key in wanted} - set(scope)):
        who = ", ".join(outside)
        raise InvalidInput(f"the request asks for blocks of {who}, outside its own scope")
    summaries: list[BlockSummary] = []
    listings: dict[BlockKey, Listing] = {}
    deferred: list[BlockKey] = []
    listed_bytes = 0
    # An answer states only the requested blocks (the rest was settled by the first round), so
    # only they are read; a requested block without receipts here is stated with count 0.
    keys = sorted(wanted) if request is not None else None
    with ledger_blocks(db, scope, keys, totals=keys is not None) as (events, blocks_here):
        found = _with_empty(blocks_here, keys) if keys is not None else blocks_here
        for block in found:
            summaries.append(block.summary())
            if (asked_for := wanted.get(block.key)) is None:
                continue
            listing = answer_request(block, asked_for)
            cost = _BLOCK_BYTES + _SLOT_BYTES * len(listing.slots)
            if listed_bytes + cost + _BLOCK_BYTES * len(summaries) + _RESERVE > MAX_XML_BYTES:
                deferred.append(block.key)
            else:
                listings[block.key] = listing
                listed_bytes += cost
    while listings and listed_bytes + _BLOCK_BYTES * len(summaries) + _RESERVE > MAX_XML_BYTES:
        key, dropped = listings.popitem()
        listed_bytes -= _BLOCK_BYTES + _SLOT_BYTES * len(dropped.slots)
        deferred.append(key)
    summaries.sort(key=lambda b: b.key)
    summary = Summary(
        signer.org_code, scope, tuple(summaries), listings, tuple(sorted(deferred)), answering
    )
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    document = signer.sign_document(_summary_element(summary, moment, events), moment)
    if len(document) > MAX_XML_BYTES:
        raise InvalidInput(
            f"the summary of {len(summaries):,} blocks is {len(document):,} bytes, over the "
            f"{MAX_XML_BYTES:,}-byte limit of a signed file: summarise fewer issuers (--issuer)"
        )
    receipts = sum(b.count for b in summaries)
    _record(
        db,
        signer,
        "reconcile.summary",
        {
            "root": summary.root,
            "issuers": list(scope),
            "blocks": len(summaries),
            "receipts": receipts,
            "listed_blocks": len(listings),
            "answering": answering,
            "total": str(sum((b.total for b in summaries), Decimal("0.00"))),
        },
    )
    return SummaryResult(summary, document, events, receipts, len(wanted))


def _with_empty(blocks: Iterator[Block], keys: Sequence[BlockKey]) -> Iterator[Block]:
    """``blocks``, then an empty block for each of ``keys`` that had none."""
    seen = set()
    for block in blocks:
        seen.add(block.key)
        yield block
    for key in keys:
        if key not in seen:
            yield Block(key, [], b"", [])


def reconcile_tiers(
    db: Database,
    data: bytes,
    validator: ChainValidator,
    own_org: str,
    signer: HeadSigner | None,
    now: datetime | None = None,
) -> TierResult:
    """Compare another side's signed summary with this ledger; the outcome is recorded in the
    event log, and a request for the second round is returned when blocks remain unlisted."""
    theirs, problems = read_summary(data, validator)
    if theirs.org == own_org:
        raise InvalidInput(f"this summary was written by this ledger ({own_org})")
    ours: list[BlockSummary] = []

    def tee(blocks: Iterator[Block]) -> Iterator[Block]:
        for block in blocks:
            ours.append(block.summary())
            yield block

    # An answer states only the blocks that were requested: only they are read and compared.
    keys = [b.key for b in theirs.blocks] if theirs.answering is not None else None
    with ledger_blocks(db, theirs.issuers, keys) as (_, blocks_here):
        comparison = compare_summary(theirs, tee(blocks_here))
    comparison.findings[:0] = problems
    request = None
    if comparison.requests:
        request = request_document(own_org, theirs, comparison.requests, now)
    our_root = merkle_root([b.leaf() for b in sorted(ours, key=lambda b: b.key)]).hex()
    _record(
        db,
        signer,
        "reconcile.tiers",
        {
            "with": theirs.org,
            "their_root": theirs.root,
            "our_root": our_root,
            "findings": len(comparison.findings),
            "requested": len(comparison.requests),
        },
    )
    return TierResult(comparison, theirs, our_root, len(data), request)


def _record(db: Database, signer: HeadSigner | None, kind: str, payload: dict[str, object]) -> None:
    with db.write() as (session, state):
        append_event(session, state, kind, payload)
        sign_head(session, state, signer)


# --- the files ---------------------------------------------------------------------------


def _el(
    parent: etree._Element | None, name: str, text: str | None = None, **attrs: str
) -> etree._Element:
    if parent is None:
        nsmap: dict[str | None, str] = {None: RECONCILIATION_NS}
        element = etree.Element(_N + name, attrs, nsmap=nsmap)  # type: ignore[arg-type]
    else:
        element = etree.SubElement(parent, _N + name, attrs)
    element.text = text
    return element


def _sums(blocks: Sequence[BlockSummary]) -> dict[str, str]:
    total = sum((b.total for b in blocks), Decimal("0.00"))
    return {
        "blocks": str(len(blocks)),
        "receipts": str(sum(b.count for b in blocks)),
        "total": format_amount(total),
    }


def _summary_element(summary: Summary, moment: datetime, events: int) -> etree._Element:
    root = _el(None, "ReconciliationSummary", version="1")
    for name, text in (
        ("Org", summary.org),
        ("CreatedAt", moment.isoformat(timespec="seconds")),
        ("LedgerEvents", str(events)),
        ("BlockSize", str(BLOCK_SIZE)),
    ):
        _el(root, name, text)
    _el(root, "Root", summary.root, **_sums(summary.blocks))
    scope = _el(root, "Scope")
    for issuer in summary.issuers:
        _el(scope, "Issuer", issuer)
    if summary.answering is not None:
        _el(root, "Answers", summary.answering)
    roots = summary.series_roots()
    for series_key, group in itertools.groupby(
        summary.blocks, lambda b: (b.key.issuer, b.key.code)
    ):
        blocks = list(group)
        series = _el(
            root,
            "Series",
            issuer=series_key[0],
            code=series_key[1],
            **_sums(blocks),
            root=roots[series_key],
        )
        for b in blocks:
            element = _el(
                series,
                "Block",
                index=str(b.key.index),
                count=str(b.count),
                total=format_amount(b.total),
                hash=b.hash,
            )
            if (listing := summary.listings.get(b.key)) is None:
                continue
            parts = listing.parts
            element.set("listed", "all" if parts is None else " ".join(map(str, sorted(parts))))
            for slot in listing.slots:
                _el(
                    element,
                    "Slot",
                    number=format_number(slot.number),
                    digest=slot.digest,
                    total=format_amount(slot.total),
                )
    for key in summary.deferred:
        _el(root, "Deferred", issuer=key.issuer, code=key.code, index=str(key.index))
    return root


def read_summary(data: bytes, validator: ChainValidator) -> tuple[Summary, list[TierFinding]]:
    """Verify a summary file against the trust and read it; the findings say where the file
    contradicts itself (a root, count or total that does not match its blocks)."""
    what = "reconciliation summary"
    root, signer = verify_document(
        data, validator, expected_org=None, schema="reconciliation.xsd", what=what
    )
    if root.tag != _N + "ReconciliationSummary":
        raise InvalidInput("not a reconciliation summary (a request? give it to --blocks)")
    org = root.findtext(_N + "Org") or ""
    if signer != org:
        raise InvalidSignedDocument(f"the summary says it is {org}'s but is signed by {signer}")
    issuers = tuple(e.text or "" for e in root.iterfind(f"{_N}Scope/{_N}Issuer"))
    for issuer in issuers:
        up = divisions.upstream_of(issuer)
        if signer not in (issuer, up, up and divisions.upstream_of(up)):
            raise InvalidSignedDocument(f"{signer} may not state {issuer}'s receipts")
    answering = root.findtext(_N + "Answers")
    blocks: list[BlockSummary] = []
    listings: dict[BlockKey, Listing] = {}
    problems: list[TierFinding] = []
    for series in root.iterfind(_N + "Series"):
        issuer, code = series.get("issuer", ""), series.get("code", "")
        if issuer not in issuers:
            raise InvalidInput(f"{what}: series {issuer} {code} lies outside its scope")
        mine = []
        for element in series.iterfind(_N + "Block"):
            key = BlockKey(issuer, code, int(element.get("index", "")))
            total = parse_amount(element.get("total", ""), allow_negative=True)
            count = int(element.get("count", ""))
            if count == 0 and answering is None:
                raise InvalidInput(f"{what}: {key} is empty (only an answer states empty blocks)")
            mine.append(BlockSummary(key, count, total, element.get("hash", "")))
            if (listed := element.get("listed")) is not None:
                listings[key] = _listing(key, listed, element)
        stated = {name: series.get(name) for name in ("blocks", "receipts", "total", "root")}
        if stated != {**_sums(mine), "root": merkle_root([b.leaf() for b in mine]).hex()}:
            detail = "its series root, count or total does not match its blocks"
            problems.append(
                TierFinding(TierFindingKind.INCONSISTENT_FILE, mine[0].key, detail=detail)
            )
        blocks += mine
    if len({b.key for b in blocks}) != len(blocks):
        raise InvalidInput(f"{what}: a block is listed twice")
    blocks.sort(key=lambda b: b.key)
    deferred = tuple(
        BlockKey(e.get("issuer", ""), e.get("code", ""), int(e.get("index", "")))
        for e in root.iterfind(_N + "Deferred")
    )
    summary = Summary(org, issuers, tuple(blocks), listings, deferred, answering)
    if summary.root != root.findtext(_N + "Root") and blocks:
        detail = "its Merkle root does not match its blocks"
        problems.append(
            TierFinding(TierFindingKind.INCONSISTENT_FILE, blocks[0].key, detail=detail)
        )
    return summary, problems


def _listing(key: BlockKey, listed: str, element: etree._Element) -> Listing:
    parts = None if listed == "all" else frozenset(int(p) for p in listed.split())
    if parts is not None and not parts <= set(range(PARTS)):
        raise InvalidInput(f"reconciliation summary: {key} lists parts beyond {PARTS - 1}")
    slots = tuple(
        Slot(
            key.issuer,
            key.code,
            int(s.get("number", "")),
            s.get("digest", ""),
            parse_amount(s.get("total", ""), allow_negative=True),
        )
        for s in element.iterfind(_N + "Slot")
    )
    numbers = [s.number for s in slots]
    if len(set(numbers)) != len(numbers) or any(
        s.key != key or (parts is not None and part_of(s.number) not in parts) for s in slots
    ):
        raise InvalidInput(f"reconciliation summary: {key} lists receipts twice or outside it")
    return Listing(parts, slots)


def request_document(
    requester: str, theirs: Summary, requests: Sequence[BlockRequest], now: datetime | None = None
) -> bytes:
    """The (unsigned) request for the second round: which blocks ``theirs``' author must list,
    with the requester's fingerprints of each. It grants nothing, so it needs no signature."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    root = _el(None, "ReconciliationRequest", version="1")
    for name, text in (
        ("From", requester),
        ("To", theirs.org),
        ("CreatedAt", moment.isoformat(timespec="seconds")),
        ("Answering", theirs.root),
    ):
        _el(root, name, text)
    scope = _el(root, "Scope")
    for issuer in theirs.issuers:
        _el(scope, "Issuer", issuer)
    for r in requests:
        element = _el(root, "Block", issuer=r.key.issuer, code=r.key.code, index=str(r.key.index))
        if r.fingerprints is not None:
            element.set("parts", base64.b64encode(r.fingerprints).decode())
    etree.indent(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


class RequestFile(NamedTuple):
    """What a request file asks."""

    to: str
    """Whom it asks: the author of the summary it answers."""
    scope: tuple[str, ...]
    """That summary's issuers."""
    blocks: list[BlockRequest]
    """The blocks to list."""
    answering: str
    """That summary's Merkle root."""


def read_request(data: bytes) -> RequestFile:
    """A request file: whom it asks, the issuers and root of the summary it answers, and the
    blocks it asks for."""
    try:
        root = parse_untrusted(data, max_bytes=MAX_REQUEST_BYTES)
    except UnsafeXML as exc:
        raise InvalidInput(f"reconciliation request: {exc}") from None
    schema = load_schema("reconciliation.xsd")
    if not schema.validate(root) or root.tag != _N + "ReconciliationRequest":
        error = schema.error_log.last_error  # type: ignore[attr-defined]
        why = error.message if error is not None else "not a reconciliation request"
        raise InvalidInput(f"reconciliation request: {why}")
    blocks = []
    for e in root.iterfind(_N + "Block"):
        key = BlockKey(e.get("issuer", ""), e.get("code", ""), int(e.get("index", "")))
        parts = e.get("parts")
        blocks.append(BlockRequest(key, None if parts is None else base64.b64decode(parts)))
    scope = tuple(e.text or "" for e in root.iterfind(f"{_N}Scope/{_N}Issuer"))
    to, answering = root.findtext(_N + "To") or "", root.findtext(_N + "Answering") or ""
    return RequestFile(to, scope, blocks, answering)
