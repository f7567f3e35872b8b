"""Reconciliation between tiers by number-space summaries: the pure comparison.

Nothing here touches a database or a file; :mod:`receipts.reconcile.tiers` feeds it, and
:mod:`receipts.reconcile.blocks` defines the blocks, hashes, Merkle tree and part
fingerprints it compares.

**Two rounds.** One side's summary states its block summaries. The other side compares them
with its own blocks: equal blocks are done with; for the others it sends its part fingerprints
of each block, and the first side lists its receipts in the parts whose fingerprints differ.
The requester rebuilds the other side's whole block from the listed parts and its own remaining
parts and checks it against the signed block summary (count, total, hash): a fingerprint
collision, or a ledger that changed between the rounds, is caught there and the block is asked
for in full. So the second round carries about 4 slots per difference, not 1,024.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from receipts.domain.money import to_fen
from receipts.findings import FindingCode
from receipts.reconcile.blocks import (
    BLOCK_SIZE,
    FINGERPRINT_BYTES,
    Block,
    BlockKey,
    BlockSummary,
    Slot,
    merkle_root,
    part_of,
)

__all__ = [
    "BlockRequest",
    "Listing",
    "Summary",
    "TierComparison",
    "TierFinding",
    "answer_request",
    "compare_summary",
]


@dataclass(frozen=True)
class Listing:
    """The receipts one side lists for a block the other side asked about."""

    parts: frozenset[int] | None
    """The parts listed; None for the whole block."""
    slots: tuple[Slot, ...]
    """Every receipt of this side in those parts."""


@dataclass(frozen=True)
class BlockRequest:
    """A block the requester wants listed, with its own fingerprints of it."""

    key: BlockKey
    """Which block."""
    fingerprints: bytes | None
    """The requester's part fingerprints (256 for a block of 1,024); None asks for the whole
    block."""


@dataclass(frozen=True)
class Summary:
    """One side's signed statement of its number space (a summary file's content)."""

    org: str
    """Whose ledger."""
    issuers: tuple[str, ...]
    """The issuers it covers (an issuer without receipts has no blocks)."""
    blocks: tuple[BlockSummary, ...]
    """Non-empty blocks in (issuer, code, index) order."""
    listings: Mapping[BlockKey, Listing] = field(default_factory=dict)
    """Listings of the blocks a request asked for."""
    deferred: tuple[BlockKey, ...] = ()
    """Requested blocks not listed (the file would have grown too large): ask again."""
    answering: str | None = None
    """For an answer to a request, the root of the summary the request answered: such a file
    states only the requested blocks (an empty one with count 0), not the whole ledger."""
    block_size: int = BLOCK_SIZE
    """Numbers per block (every block key carries it too)."""

    @functools.cached_property
    def root(self) -> str:
        """Merkle root over every block, hex."""
        return merkle_root([b.leaf() for b in self.blocks]).hex()

    def series_roots(self) -> dict[tuple[str, str], str]:
        """Merkle root per (issuer, code), hex."""
        series: dict[tuple[str, str], list[bytes]] = {}
        for block in self.blocks:
            series.setdefault((block.key.issuer, block.key.code), []).append(block.leaf())
        return {key: merkle_root(leaves).hex() for key, leaves in series.items()}


def answer_request(block: Block, request: BlockRequest) -> Listing:
    """The listing of ``block`` that answers ``request``: the parts whose fingerprints differ."""
    if request.fingerprints is None:
        return Listing(None, tuple(block.slots()))
    if len(request.fingerprints) != block.key.parts * FINGERPRINT_BYTES:
        want = block.key.parts * FINGERPRINT_BYTES
        raise ValueError(f"{request.key}: fingerprints must be {want} bytes")
    ours, theirs = array("I", block.fingerprints()), array("I", request.fingerprints)
    parts = frozenset(p for p, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
    return Listing(parts, tuple(block.slots(parts)))


@dataclass(frozen=True)
class TierFinding:
    """One discrepancy between this ledger and a summary file."""

    code: FindingCode
    """What was found: one of the tier reconciliation codes (``missing``, ``extra``,
    ``differing``, ``block-differs``, ``block-only-in-file``, ``inconsistent-file``)."""
    block: BlockKey
    """The block it is in."""
    number: int | None = None
    """The receipt number, for receipt-level findings."""
    there: Slot | None = None
    """The receipt as the file states it."""
    here: Slot | None = None
    """The receipt as this ledger holds it."""
    detail: str = ""
    """What differs, in words."""

    @property
    def message(self) -> str:
        """One line for people."""
        what = str(self.block) if self.number is None else f"{self.block.code}-{self.number:010d}"
        return f"{what}: {_SAYS[self.code]}" + (f" ({self.detail})" if self.detail else "")


_SAYS = {
    FindingCode.TIER_MISSING: "in the file, not here",
    FindingCode.TIER_EXTRA: "here, not in the file",
    FindingCode.TIER_DIFFERING: "differs",
    FindingCode.BLOCK_DIFFERS: "block differs; its listing is requested",
    FindingCode.BLOCK_ONLY_IN_FILE: "block only in the file; its listing is requested",
    FindingCode.INCONSISTENT_FILE: "the file is inconsistent",
}


@dataclass
class TierComparison:
    """The outcome of comparing a summary with this ledger's blocks."""

    findings: list[TierFinding] = field(default_factory=list)
    """Every discrepancy, ordered by code, number and issuer."""
    requests: list[BlockRequest] = field(default_factory=list)
    """Blocks the other side must list (the second round)."""
    blocks_theirs: int = 0
    """Blocks in the file."""
    blocks_ours: int = 0
    """Blocks here, for the same issuers."""
    blocks_agreeing: int = 0
    """Blocks equal on both sides."""
    receipts_listed: int = 0
    """Receipts the file lists."""

    @property
    def discrepancies(self) -> bool:
        """True when anything differs or is still unresolved."""
        return bool(self.findings)


def compare_summary(theirs: Summary, ours: Iterable[Block]) -> TierComparison:
    """Compare the other side's summary with this side's blocks (any order, same issuers).

    Blocks only here are named receipt by receipt at once (and requested, so that the answer
    confirms them); differing blocks and blocks only in the file are resolved from the file's
    listings when it has them, otherwise requested.
    """
    result = TierComparison(blocks_theirs=len(theirs.blocks))
    result.receipts_listed = sum(len(listing.slots) for listing in theirs.listings.values())
    pending = {block.key: block for block in theirs.blocks}
    scope = set(theirs.issuers)
    for block in ours:
        if block.key.issuer not in scope:
            continue
        result.blocks_ours += 1
        there = pending.pop(block.key, None)
        if there is None:
            # named at once, and asked for: the other side's answer states the block (empty)
            # under its signature, so the second round's report is complete on its own
            result.findings += [_receipt(FindingCode.TIER_EXTRA, None, s) for s in block.slots()]
            result.requests.append(BlockRequest(block.key, block.fingerprints()))
        elif there.agrees(block.summary()):
            result.blocks_agreeing += 1
        else:
            _differing(theirs, there, block, result)
    for there in pending.values():
        _differing(theirs, there, None, result)
    result.requests.sort(key=lambda r: r.key)
    result.findings.sort(key=lambda f: (f.block, f.number or 0, f.code.value))
    return result


def _receipt(
    code: FindingCode, there: Slot | None, here: Slot | None, detail: str = ""
) -> TierFinding:
    slot = there or here
    assert slot is not None
    return TierFinding(code, slot.key, slot.number, there, here, detail)


def _differing(
    theirs: Summary, there: BlockSummary, ours: Block | None, out: TierComparison
) -> None:
    listing = theirs.listings.get(there.key)
    if listing is not None:
        request = _resolve(there, listing, ours, out.findings)
        if request is None:
            return
    else:
        request = BlockRequest(there.key, None if ours is None else ours.fingerprints())
    out.requests.append(request)
    if ours is None:
        detail = f"{there.count} receipt(s), total {there.total:.2f} in the file"
        out.findings.append(TierFinding(FindingCode.BLOCK_ONLY_IN_FILE, there.key, detail=detail))
    else:
        mine = ours.summary()
        detail = (
            f"file {there.count} receipt(s), total {there.total:.2f}; "
            f"here {mine.count}, total {mine.total:.2f}"
        )
        out.findings.append(TierFinding(FindingCode.BLOCK_DIFFERS, there.key, detail=detail))


def _resolve(
    there: BlockSummary, listing: Listing, ours: Block | None, findings: list[TierFinding]
) -> BlockRequest | None:
    """Name the receipts behind a listed block. The file's listed parts and this side's other
    parts must rebuild the file's block summary; if they do not, the block is asked for in full
    (it changed between the rounds, or fingerprints collided), or, when it was listed in full
    already, the file contradicts itself."""
    rebuilt = _rebuild(there.key, listing, ours)
    if not rebuilt.summary().agrees(there):
        if listing.parts is not None:
            return BlockRequest(there.key, None)
        why = "its listing does not reproduce its block summary"
        findings.append(TierFinding(FindingCode.INCONSISTENT_FILE, there.key, detail=why))
        return None
    mine = ours.slots(listing.parts) if ours is not None else []
    here = {s.number: s for s in mine}
    for slot in listing.slots:
        own = here.pop(slot.number, None)
        if own is None:
            findings.append(_receipt(FindingCode.TIER_MISSING, slot, None))
        elif (own.digest, own.total) != (slot.digest, slot.total):
            findings.append(
                _receipt(FindingCode.TIER_DIFFERING, slot, own, _what_differs(slot, own))
            )
    findings += [_receipt(FindingCode.TIER_EXTRA, None, s) for s in here.values()]
    return None


def _rebuild(key: BlockKey, listing: Listing, ours: Block | None) -> Block:
    """The other side's block: its listed parts, and this side's receipts in the other parts,
    assembled in number order from slices (no work per receipt outside the listed parts)."""
    if ours is None or listing.parts is None:
        return Block.from_slots(key, listing.slots)
    listed: dict[int, list[Slot]] = {}
    for slot in sorted(listing.slots, key=lambda s: s.number):
        listed.setdefault(part_of(slot.number, key.size), []).append(slot)
    numbers: list[int] = []
    digests: list[bytes] = []
    totals: list[int] = []
    done, fens = 0, ours.totals_fen
    for part in sorted(listing.parts):
        start, end = ours.span(part)
        numbers += ours.numbers[done:start]
        digests.append(ours.digests[32 * done : 32 * start])
        totals += fens[done:start]
        for slot in listed.get(part, ()):
            numbers.append(slot.number)
            digests.append(bytes.fromhex(slot.digest))
            totals.append(to_fen(slot.total))
        done = end
    numbers += ours.numbers[done:]
    digests.append(ours.digests[32 * done :])
    totals += fens[done:]
    return Block(key, numbers, b"".join(digests), totals)


def _what_differs(there: Slot, here: Slot) -> str:
    parts: list[str] = []
    if there.digest != here.digest:
        parts.append(f"digest {there.digest[:12]}… in the file, {here.digest[:12]}… here")
    if there.total != here.total:
        parts.append(f"total {there.total:.2f} in the file, {here.total:.2f} here")
    return "; ".join(parts)
