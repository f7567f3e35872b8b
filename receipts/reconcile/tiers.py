"""Reconciliation between tiers: this ledger's number-space summary, and the comparison of
another side's summary with this ledger (``docs/architecture.md``).

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

A signed file is at most 1 MB (``docs/formats.md``). The first summary's block size grows
with the ledger (1,024 numbers, doubled until the blocks it states fit: ``block_size_for``),
so the number of blocks, and the file, stay bounded whatever the number of receipts; the
request and the answer keep that size. A listing that would not fit is left for another round
(the blocks are named in ``Deferred`` and requested again). The files are written
and read by :mod:`receipts.reconcile.summary_file`; the ledger is read by
:mod:`receipts.reconcile.block_reader`, block by block, in one snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from receipts.domain import divisions
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.pki.signer import ReceiptSigner
from receipts.reconcile.block_reader import (
    LedgerInconsistent,
    block_count,
    ledger_blocks,
    ledger_issuers,
)
from receipts.reconcile.blocks import Block, BlockKey, BlockSummary, block_size_for, merkle_root
from receipts.reconcile.exchange import (
    BlockRequest,
    Listing,
    Summary,
    TierComparison,
    answer_request,
    compare_summary,
)
from receipts.reconcile.summary_file import (
    read_request,
    read_summary,
    request_document,
    summary_element,
)
from signing.trust import ChainValidator
from signing.xmlparse import MAX_XML_BYTES

__all__ = [
    "LedgerInconsistent",
    "SummaryResult",
    "TierResult",
    "make_summary",
    "reconcile_tiers",
]

# Serialised sizes used to keep a summary under MAX_XML_BYTES while it is being built (a block
# statement is about 125 bytes, a listed slot about 120, a series about 250).
_BLOCK_BYTES, _SLOT_BYTES, _SERIES_BYTES, _RESERVE = 140, 130, 300, 16_000


@dataclass(frozen=True)
class SummaryResult:
    """A summary of this ledger and its signed file."""

    summary: Summary
    """What the file states."""
    document: bytes
    """The signed XML."""
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


@dataclass
class _Packer:
    """A summary's blocks as they are read, and the listings that fit in one signed file."""

    summaries: list[BlockSummary] = field(default_factory=list)
    """Every block read, in reading order."""
    listings: dict[BlockKey, Listing] = field(default_factory=dict)
    """The requested blocks' listings that fit."""
    deferred: list[BlockKey] = field(default_factory=list)
    """Requested blocks whose listings did not fit: left for another round."""
    listed_bytes: int = 0
    """Estimated size of the listings kept."""

    def add(self, block: Block, asked_for: BlockRequest | None) -> None:
        """State ``block``, and list it when it was asked for and the listing still fits."""
        self.summaries.append(block.summary())
        if asked_for is None:
            return
        listing = answer_request(block, asked_for)
        cost = _BLOCK_BYTES + _SLOT_BYTES * len(listing.slots)
        if self._size(cost) > MAX_XML_BYTES:
            self.deferred.append(block.key)
        else:
            self.listings[block.key] = listing
            self.listed_bytes += cost

    def fit(self) -> None:
        """Defer listings until the file fits: block summaries read after a listing was taken
        count against the limit too."""
        while self.listings and self._size() > MAX_XML_BYTES:
            key, dropped = self.listings.popitem()
            self.listed_bytes -= _BLOCK_BYTES + _SLOT_BYTES * len(dropped.slots)
            self.deferred.append(key)

    def _size(self, extra: int = 0) -> int:
        return self.listed_bytes + extra + _BLOCK_BYTES * len(self.summaries) + _RESERVE


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
    answering, size = None, None
    if request is not None:
        asked = read_request(request)
        if asked.to != signer.org_code:
            raise InvalidInput(f"the request is addressed to {asked.to}, not to {signer.org_code}")
        wanted, answering = {r.key: r for r in asked.blocks}, asked.answering
        issuers, size = issuers or asked.scope, asked.block_size
    scope = tuple(sorted(set(issuers))) if issuers else ledger_issuers(db, signer.org_code)
    for issuer in scope:
        divisions.validate_division_code(issuer, what="issuer")
    if size is None:
        size = _block_size(db, scope)
    if outside := sorted({key.issuer for key in wanted} - set(scope)):
        who = ", ".join(outside)
        raise InvalidInput(f"the request asks for blocks of {who}, outside its own scope")
    packer = _Packer()
    # An answer states only the requested blocks (the rest was settled by the first round), so
    # only they are read; a requested block without receipts here is stated with count 0.
    keys = sorted(wanted) if request is not None else None
    with ledger_blocks(db, scope, keys, totals=keys is not None, size=size) as (
        events,
        blocks_here,
    ):
        for block in _with_empty(blocks_here, keys) if keys is not None else blocks_here:
            packer.add(block, wanted.get(block.key))
    packer.fit()
    summaries = sorted(packer.summaries, key=lambda b: b.key)
    summary = Summary(
        signer.org_code,
        scope,
        tuple(summaries),
        packer.listings,
        tuple(sorted(packer.deferred)),
        answering,
        size,
    )
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    document = signer.sign_document(summary_element(summary, moment, events), moment)
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
            "listed_blocks": len(packer.listings),
            "answering": answering,
            "total": str(sum((b.total for b in summaries), Decimal("0.00"))),
        },
    )
    return SummaryResult(summary, document, receipts, len(wanted))


def _block_size(db: Database, scope: Sequence[str]) -> int:
    """The block size of a first summary: the smallest at which its blocks (bounded by each
    code's span of numbers) fit in a signed file beside its series (``docs/formats.md``)."""
    blocks_at = block_count(db, scope)
    series = len(scope)  # at least one per issuer with receipts, usually one
    room = (MAX_XML_BYTES - _RESERVE - _SERIES_BYTES * series) // _BLOCK_BYTES
    return block_size_for(blocks_at, room)


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
    with ledger_blocks(db, theirs.issuers, keys, size=theirs.block_size) as (_, blocks_here):
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
