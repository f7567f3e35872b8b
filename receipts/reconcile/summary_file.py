"""The files of a reconciliation between tiers (``docs/formats.md``): the signed summary of a
ledger's number space, and the unsigned request for the second round.

A summary states, per issuer and receipt code, every non-empty block's count, total and hash,
the series' Merkle roots and the root over all, and, in an answer, the listings of the requested
blocks; :func:`read_summary` verifies it and reports where it contradicts itself. A request
names the blocks its author wants listed, with its own part fingerprints of each.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from lxml import etree

from receipts.domain import divisions
from receipts.domain.identifiers import format_number
from receipts.domain.money import format_amount, parse_amount
from receipts.domain.signed_documents import InvalidSignedDocument, verify_document
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.reconcile.blocks import (
    BLOCK_SIZE,
    FINGERPRINT_BYTES,
    BlockKey,
    BlockSummary,
    Slot,
    merkle_root,
    part_of,
)
from receipts.reconcile.exchange import BlockRequest, Listing, Summary, TierFinding
from schemas import load_schema
from signing.trust import ChainValidator
from signing.xmlparse import UnsafeXML, parse_untrusted

__all__ = [
    "MAX_REQUEST_BYTES",
    "RECONCILIATION_NS",
    "RequestFile",
    "read_request",
    "read_summary",
    "request_document",
    "summary_element",
]

RECONCILIATION_NS = "urn:union-dues-receipt:reconciliation:1"
_N = f"{{{RECONCILIATION_NS}}}"
#: A request is unsigned and may be larger than a signed file (fingerprints of many blocks).
MAX_REQUEST_BYTES = 16_000_000


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


def summary_element(summary: Summary, moment: datetime, events: int) -> etree._Element:
    root = _el(None, "ReconciliationSummary", version="1")
    for name, text in (
        ("Org", summary.org),
        ("CreatedAt", moment.isoformat(timespec="seconds")),
        ("LedgerEvents", str(events)),
        ("BlockSize", str(summary.block_size)),
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
    size = int(root.findtext(_N + "BlockSize") or "")  # one of the schema's powers of two
    blocks: list[BlockSummary] = []
    listings: dict[BlockKey, Listing] = {}
    problems: list[TierFinding] = []
    for series in root.iterfind(_N + "Series"):
        issuer, code = series.get("issuer", ""), series.get("code", "")
        if issuer not in issuers:
            raise InvalidInput(f"{what}: series {issuer} {code} lies outside its scope")
        mine = []
        for element in series.iterfind(_N + "Block"):
            key = BlockKey(issuer, code, int(element.get("index", "")), size)
            total = parse_amount(element.get("total", ""), allow_negative=True)
            count = int(element.get("count", ""))
            if count > size:
                raise InvalidInput(f"{what}: {key} counts {count} receipts in {size} numbers")
            if count == 0 and answering is None:
                raise InvalidInput(f"{what}: {key} is empty (only an answer states empty blocks)")
            mine.append(BlockSummary(key, count, total, element.get("hash", "")))
            if (listed := element.get("listed")) is not None:
                listings[key] = _listing(key, listed, element)
        stated = {name: series.get(name) for name in ("blocks", "receipts", "total", "root")}
        if stated != {**_sums(mine), "root": merkle_root([b.leaf() for b in mine]).hex()}:
            detail = "its series root, count or total does not match its blocks"
            problems.append(TierFinding(FindingCode.INCONSISTENT_FILE, mine[0].key, detail=detail))
        blocks += mine
    if len({b.key for b in blocks}) != len(blocks):
        raise InvalidInput(f"{what}: a block is listed twice")
    blocks.sort(key=lambda b: b.key)
    deferred = tuple(
        BlockKey(e.get("issuer", ""), e.get("code", ""), int(e.get("index", "")), size)
        for e in root.iterfind(_N + "Deferred")
    )
    summary = Summary(org, issuers, tuple(blocks), listings, deferred, answering, size)
    if summary.root != root.findtext(_N + "Root") and blocks:
        detail = "its Merkle root does not match its blocks"
        problems.append(TierFinding(FindingCode.INCONSISTENT_FILE, blocks[0].key, detail=detail))
    return summary, problems


def _listing(key: BlockKey, listed: str, element: etree._Element) -> Listing:
    parts = None if listed == "all" else frozenset(int(p) for p in listed.split())
    if parts is not None and not parts <= set(range(key.parts)):
        raise InvalidInput(f"reconciliation summary: {key} lists parts beyond {key.parts - 1}")
    slots = tuple(
        Slot(
            key.issuer,
            key.code,
            int(s.get("number", "")),
            s.get("digest", ""),
            parse_amount(s.get("total", ""), allow_negative=True),
            key.size,
        )
        for s in element.iterfind(_N + "Slot")
    )
    numbers = [s.number for s in slots]
    if len(set(numbers)) != len(numbers) or any(
        s.key != key or (parts is not None and part_of(s.number, key.size) not in parts)
        for s in slots
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
        ("BlockSize", str(theirs.block_size)),
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
    block_size: int
    """That summary's block size."""


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
    size = int(root.findtext(_N + "BlockSize") or BLOCK_SIZE)  # absent: the first version's
    blocks = []
    for e in root.iterfind(_N + "Block"):
        key = BlockKey(e.get("issuer", ""), e.get("code", ""), int(e.get("index", "")), size)
        parts = e.get("parts")
        fingerprints = None if parts is None else base64.b64decode(parts)
        if fingerprints is not None and len(fingerprints) != key.parts * FINGERPRINT_BYTES:
            raise InvalidInput(
                f"reconciliation request: {key} carries {len(fingerprints)} bytes of "
                f"fingerprints, not {key.parts * FINGERPRINT_BYTES}"
            )
        blocks.append(BlockRequest(key, fingerprints))
    scope = tuple(e.text or "" for e in root.iterfind(f"{_N}Scope/{_N}Issuer"))
    to, answering = root.findtext(_N + "To") or "", root.findtext(_N + "Answering") or ""
    return RequestFile(to, scope, blocks, answering, size)
