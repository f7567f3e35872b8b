"""The number space of reconciliation between tiers: blocks, their summaries and
hashes, the Merkle tree over them, and the part fingerprints of the second round.

Nothing here touches a database or a file. :mod:`receipts.reconcile.exchange` compares with it.

**Number space.** For each (issuer, code), receipt numbers are grouped in blocks of *S*
numbers, *S* a power of two from :data:`BLOCK_SIZE` = 1,024 to :data:`MAX_BLOCK_SIZE`, one *S*
per summary (chosen by its author, :func:`block_size_for`; ``docs/formats.md``): block *k* holds
the numbers *k*·*S* … *k*·*S* + *S* − 1 (number 0 never exists, so block 0 has at most *S* − 1
receipts). A block has *S* slots in number order; a slot is the receipt's SHA-256 digest (32
bytes) or, for a number without a receipt, :data:`EMPTY_SLOT` = SHA-256(``b"UDR-EMPTY-SLOT"``).
A block summary is the count of its receipts, their total and ``hash`` = SHA-256(slot 0 ‖ … ‖
slot *S* − 1). Only non-empty blocks are listed. A missing receipt changes its own block and
nothing after it.

**Merkle tree.** The Merkle Tree Hash of RFC 6962 §2.1 over the block summaries in (issuer,
code, index) order: leaf data = UTF-8 ``issuer|code|index|count|total|hash`` (total with two
decimals, hash in lower-case hex); leaf hash = SHA-256(0x00 ‖ leaf data); an inner node =
SHA-256(0x01 ‖ left ‖ right), *n* leaves being split at the largest power of two below *n*; no
leaves hash to SHA-256(""). A series root is that tree over one (issuer, code); the summary root
over every block of the summary. Each side signs and keeps its root.

**Parts.** A block is cut into *S* / :data:`PART_SIZE` parts (:data:`PARTS` = 256 for
*S* = 1,024) of :data:`PART_SIZE` = 4 slots. A part's fingerprint is the CRC-32
(:data:`FINGERPRINT_BYTES` = 4 bytes, big-endian) of its 4 slots followed by their 4 totals in
fen, each an 8-byte big-endian signed integer (0 for an empty slot).
"""

from __future__ import annotations

import functools
import hashlib
import operator
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, islice, pairwise

from receipts.domain.money import from_fen, to_fen

__all__ = [
    "BLOCK_SIZE",
    "EMPTY_SLOT",
    "FINGERPRINT_BYTES",
    "MAX_BLOCK_SIZE",
    "PARTS",
    "PART_SIZE",
    "Block",
    "BlockKey",
    "BlockSummary",
    "Slot",
    "block_size_for",
    "blocks_of",
    "merkle_root",
    "part_of",
]

BLOCK_SIZE = 1024
#: The largest block size: 2^16 numbers (a block index then stays below 152,588 for the 10-digit
#: numbers, and one block's fingerprints are 64 KB).
MAX_BLOCK_SIZE = 1 << 16
PART_SIZE = 4
PARTS = BLOCK_SIZE // PART_SIZE
FINGERPRINT_BYTES = 4
EMPTY_SLOT = hashlib.sha256(b"UDR-EMPTY-SLOT").digest()
_BIG_ENDIAN = sys.byteorder == "big"
_SLOT_WORDS = 4 * PART_SIZE  # 8-byte words of a part's 4 digests
_PART_WORDS = _SLOT_WORDS + PART_SIZE  # and of its 4 totals
assert array("I").itemsize == FINGERPRINT_BYTES  # fingerprints are compared as "I" arrays


def block_size_for(blocks_at: Callable[[int], int], limit: int) -> int:
    """The smallest block size (a power of two from 1,024 to :data:`MAX_BLOCK_SIZE`) at which
    ``blocks_at(size)``, the number of blocks a summary would state, is at most ``limit``; the
    largest when none is. The number of blocks, and so a summary's size, then stays bounded
    whatever the ledger's, while the second round lists parts of the same 4 slots."""
    size = BLOCK_SIZE
    while size < MAX_BLOCK_SIZE and blocks_at(size) > limit:
        size *= 2
    return size


def _check_size(size: int) -> None:
    if not BLOCK_SIZE <= size <= MAX_BLOCK_SIZE or size & (size - 1):
        raise ValueError(f"block size {size}: not a power of two from 1024 to {MAX_BLOCK_SIZE}")


@functools.cache
def _empty_block(size: int) -> bytes:
    return EMPTY_SLOT * size


@dataclass(frozen=True, order=True)
class BlockKey:
    """Which block: issuer, receipt code and block index (numbers index·size … + size − 1)."""

    issuer: str
    """The federation that issued the receipts."""
    code: str
    """Receipt code."""
    index: int
    """Block index: number // size."""
    size: int = BLOCK_SIZE
    """Numbers per block: the summary's block size."""

    def __post_init__(self) -> None:
        _check_size(self.size)

    @property
    def first(self) -> int:
        """First number of the block."""
        return self.index * self.size

    @property
    def last(self) -> int:
        """Last number of the block."""
        return self.first + self.size - 1

    @property
    def parts(self) -> int:
        """Parts of :data:`PART_SIZE` slots in the block."""
        return self.size // PART_SIZE

    def __str__(self) -> str:
        return f"{self.issuer} {self.code} block {self.index} ({self.first:010d}-{self.last:010d})"


def part_of(number: int, size: int = BLOCK_SIZE) -> int:
    """The part (0 to size / 4 − 1) of its block of ``size`` numbers a number falls in."""
    return (number % size) // PART_SIZE


@dataclass(frozen=True)
class Slot:
    """A receipt as reconciliation sees it: where it sits in the number space and its digest."""

    issuer: str
    """Issuing federation."""
    code: str
    """Receipt code."""
    number: int
    """Receipt number."""
    digest: str
    """SHA-256 of its signed XML, lower-case hex."""
    total: Decimal
    """Its total (negative for a red receipt)."""
    size: int = BLOCK_SIZE
    """The block size of the summary it belongs to."""

    @property
    def key(self) -> BlockKey:
        """Its block."""
        return BlockKey(self.issuer, self.code, self.number // self.size, self.size)


@dataclass(frozen=True)
class BlockSummary:
    """What one side states about a block: count, total and the hash over its slots."""

    key: BlockKey
    """Which block."""
    count: int
    """Receipts in it."""
    total: Decimal
    """Their total."""
    hash: str
    """SHA-256 over its slots, lower-case hex."""

    def leaf(self) -> bytes:
        """The block's leaf data in the Merkle tree."""
        k = self.key
        return f"{k.issuer}|{k.code}|{k.index}|{self.count}|{self.total:.2f}|{self.hash}".encode()

    def agrees(self, other: BlockSummary) -> bool:
        """Same count, total and hash."""
        return (self.count, self.total, self.hash) == (other.count, other.total, other.hash)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over ``leaves`` (leaf data, not yet hashed)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves])


def _mth(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(hashes[:split]) + _mth(hashes[split:])).digest()


class Block:
    """The receipts of one block on this side, in number order, with its summary.

    Built from the ledger (numbers, concatenated digests, totals) or from :class:`Slot` values;
    both paths hash the same way. ``totals`` may be the comma-separated text the database
    aggregated: it is only parsed when a listing or fingerprints need it.
    """

    def __init__(
        self,
        key: BlockKey,
        numbers: Sequence[int],
        digests: bytes,
        totals: list[int] | str | None,
        total_fen: int | None = None,
    ) -> None:
        if len(digests) != 32 * len(numbers):
            raise ValueError(f"{key}: {len(numbers)} numbers but {len(digests)} digest bytes")
        if not isinstance(numbers, range) and not all(
            map(operator.lt, numbers, islice(numbers, 1, None))
        ):
            order = sorted(range(len(numbers)), key=numbers.__getitem__)
            numbers = [numbers[i] for i in order]
            digests = b"".join(digests[32 * i : 32 * i + 32] for i in order)
            parsed = [int(t) for t in totals.split(",")] if isinstance(totals, str) else totals
            totals = None if parsed is None else [parsed[i] for i in order]
            if any(a == b for a, b in pairwise(numbers)):
                raise ValueError(f"{key}: a number appears twice")
        if numbers and not key.first <= numbers[0] <= numbers[-1] <= key.last:
            raise ValueError(f"{key}: numbers {numbers[0]}-{numbers[-1]} lie outside it")
        if totals is None and total_fen is None:
            raise ValueError(f"{key}: neither the totals nor their sum")
        self.key = key
        self.numbers = numbers
        self.digests = digests
        self._totals = totals
        self._total_fen = total_fen
        self._slots: bytes | None = None
        self._hash: bytes | None = None

    @classmethod
    def from_slots(cls, key: BlockKey, slots: Iterable[Slot]) -> Block:
        """A block from slots (all of it, in any order)."""
        ordered = sorted(slots, key=lambda s: s.number)
        return cls(
            key,
            [s.number for s in ordered],
            b"".join(bytes.fromhex(s.digest) for s in ordered),
            [to_fen(s.total) for s in ordered],
        )

    @property
    def totals_fen(self) -> list[int]:
        """Each receipt's total in fen, in number order."""
        if self._totals is None:
            raise ValueError(f"{self.key} was read without its receipts' totals")
        if isinstance(self._totals, str):
            self._totals = list(map(int, self._totals.split(","))) if self._totals else []
        return self._totals

    @property
    def total_fen(self) -> int:
        """The block's total in fen."""
        if self._total_fen is None:
            self._total_fen = sum(self.totals_fen)
        return self._total_fen

    @property
    def hash(self) -> bytes:
        """SHA-256 over the block's slots."""
        if self._hash is None:
            self._hash = hashlib.sha256(self._slots_bytes()).digest()
        return self._hash

    def _slots_bytes(self) -> bytes:
        if self._slots is None:
            self._slots = self._assemble_slots()
        return self._slots

    def _assemble_slots(self) -> bytes:
        numbers, first, digests = self.numbers, self.key.first, self.digests
        if not numbers:
            return _empty_block(self.key.size)
        low, high = numbers[0], numbers[-1]
        pieces, at, after = [EMPTY_SLOT * (low - first)], 0, low  # digests taken, next number
        holes = () if high - low + 1 == len(numbers) else set(range(low, high + 1)) - set(numbers)
        for hole in sorted(holes):  # found in C
            taken = hole - after
            pieces += [digests[32 * at : 32 * (at + taken)], EMPTY_SLOT]
            at, after = at + taken, hole + 1
        pieces += [digests[32 * at :], EMPTY_SLOT * (self.key.last - high)]
        return b"".join(pieces)

    def summary(self) -> BlockSummary:
        """The block's summary."""
        return BlockSummary(self.key, len(self.numbers), from_fen(self.total_fen), self.hash.hex())

    def fingerprints(self) -> bytes:
        """The part fingerprints (256 for 1,024 slots), 4 bytes each, in part order."""
        parts_count = self.key.parts
        totals = array("q", bytes(8 * self.key.size))
        numbers, first = self.numbers, self.key.first
        if numbers and numbers[-1] - numbers[0] + 1 == len(numbers):
            totals[numbers[0] - first : numbers[-1] - first + 1] = array("q", self.totals_fen)
        else:
            for number, fen in zip(numbers, self.totals_fen, strict=True):
                totals[number - first] = fen
        if not _BIG_ENDIAN:
            totals.byteswap()
        # Lay each part out as its 4 slots then its 4 totals (16 + 4 words of 8 bytes), with a
        # few strided copies in C, so one CRC call covers a part.
        slots, fens = array("Q"), array("Q")
        parts = array("Q", bytes(8 * _PART_WORDS * parts_count))
        slots.frombytes(self._slots_bytes())
        fens.frombytes(totals.tobytes())
        for word in range(_SLOT_WORDS):
            parts[word::_PART_WORDS] = slots[word::_SLOT_WORDS]
        for word in range(PART_SIZE):
            parts[_SLOT_WORDS + word :: _PART_WORDS] = fens[word::PART_SIZE]
        # CRC-32 (in C) rather than a cryptographic hash: a fingerprint only decides which
        # parts to list; whatever is listed is checked against the signed block hash, and a
        # collision or a forgery just makes the requester ask for the whole block.
        data, size, crc = parts.tobytes(), 8 * _PART_WORDS, zlib.crc32
        result = array("I", [crc(data[size * p : size * p + size]) for p in range(parts_count)])
        if not _BIG_ENDIAN:
            result.byteswap()  # big-endian on the wire, whatever the machine
        return result.tobytes()

    def span(self, part: int) -> tuple[int, int]:
        """Positions ``[i, j)`` in :attr:`numbers` of the receipts in ``part``."""
        low = self.key.first + part * PART_SIZE
        return bisect_left(self.numbers, low), bisect_left(self.numbers, low + PART_SIZE)

    def slots(self, parts: frozenset[int] | None = None) -> list[Slot]:
        """The block's receipts (only those in ``parts`` when given), in number order."""
        k, numbers, fens, digests = self.key, self.numbers, self.totals_fen, self.digests
        where = (
            range(len(numbers))
            if parts is None
            else chain.from_iterable(range(*self.span(p)) for p in sorted(parts))
        )
        return [
            Slot(
                k.issuer,
                k.code,
                numbers[i],
                digests[32 * i : 32 * i + 32].hex(),
                from_fen(fens[i]),
                k.size,
            )
            for i in where
        ]


def blocks_of(slots: Iterable[Slot]) -> list[Block]:
    """Group slots into blocks, in (issuer, code, index) order (tests and small sets)."""
    grouped: dict[BlockKey, list[Slot]] = {}
    for slot in slots:
        grouped.setdefault(slot.key, []).append(slot)
    return [Block.from_slots(key, grouped[key]) for key in sorted(grouped)]
