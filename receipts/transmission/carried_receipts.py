"""The receipts the sender's events carry, as an import holds them against the listing
(docs/operations.md, "Importing large packages"): on disk, read back in the listing's order.

Each ``receipt.issued`` or ``receipt.imported`` event of the sender's fragment names a receipt
(code, number, digest) and may state its sharing. The import needs them once, to check that the
receipts listed are exactly those (:class:`receipts.transmission.received_receipts.ListingCheck`)
and to share each under what its event states; the listing is in strictly ascending code and
number order (:mod:`receipts.transmission.listing`). So each event's receipt becomes a record of
fixed size; records are sorted a run at a time and the runs written to a temporary file, then
merged back in (code, number) order, and the import walks the records and the listing side by
side. Memory: one run while the events are read, a block of each run while they are merged.
Until this module, a set of 16-byte keys and a dict of the sharings they state held ~130 bytes
a receipt (docs/operations.md): ~130 MB for a package of a million, 1.3 GB for ten million. The
file holds 56 bytes a receipt.
"""

from __future__ import annotations

import heapq
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from receipts.domain.sharing import PayerSituation
from receipts.transmission.package import RefusedPackage

__all__ = ["Carried", "CarriedReceipts", "Sharing"]

Sharing = tuple[PayerSituation, date]
"""The payer situation and sharing day an event states."""

# Code, number, digest, sharing (1 + its index among the distinct ones; 0: none), event seq.
# Big-endian, so the records' byte order is (code, number) order, the listing's.
_RECORD = struct.Struct(">IQ32sIQ")
#: Records sorted in memory at a time (~6 MB of them as Python bytes objects).
RUN = 65_536
#: Bytes read from a run at a time while merging.
_BLOCK = _RECORD.size * 1024
_CODE = re.compile(r"[0-9]{8}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Carried:
    """One receipt an event carries."""

    code: str
    number: int
    digest: str
    sharing: Sharing | None
    """What the event states, None when it states nothing."""
    seq: int
    """The event's number in the sender's chain."""


class CarriedReceipts:
    """The receipts of the fragment's receipt events: :meth:`add` them in chain order, then
    read them once, in (code, number) order, with :meth:`in_order`."""

    def __init__(self, run: int = RUN) -> None:
        self._run = run
        self._pending: list[bytes] = []
        self._runs: list[tuple[int, int]] = []  # (offset, records) in the file
        self._size = 0
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), or with us)
        self._sharings: list[Sharing] = []
        self._sharing_index: dict[Sharing, int] = {}
        self._read = False

    def __len__(self) -> int:
        return self._size

    def add(self, code: str, number: int, digest: str, sharing: Sharing | None, seq: int) -> None:
        """Keep one event's receipt; ValueError unless code, number and digest are well formed
        (8 digits; 1 to 10 digits' worth; 64 lowercase hex digits)."""
        if self._read:
            raise ValueError("the carried receipts were read already")
        if not _CODE.fullmatch(code) or not _DIGEST.fullmatch(digest):
            raise ValueError("a receipt event names a malformed code or digest")
        if not 0 < number < 10**10 or seq < 0:
            raise ValueError("a receipt event names a number out of range")
        index = 0
        if sharing is not None:
            index = self._sharing_index.get(sharing, 0)
            if not index:
                self._sharings.append(sharing)
                index = self._sharing_index[sharing] = len(self._sharings)
        self._pending.append(_RECORD.pack(int(code), number, bytes.fromhex(digest), index, seq))
        self._size += 1
        if len(self._pending) >= self._run:
            self._spill()

    def _spill(self) -> None:
        if not self._pending:
            return
        self._pending.sort()
        offset = self._file.seek(0, os.SEEK_END)
        self._file.write(b"".join(self._pending))
        self._file.flush()
        self._runs.append((offset, len(self._pending)))
        self._pending = []

    def in_order(self, what: str) -> Iterator[Carried]:
        """The receipts in (code, number) order, once; a receipt two events carry refuses the
        package (:class:`RefusedPackage`, naming both events) where the walk meets it."""
        if self._read:
            raise ValueError("the carried receipts can be read once")
        self._read = True
        self._spill()
        previous: tuple[int, int, int] | None = None  # code, number, seq
        for record in heapq.merge(*(self._records(*run) for run in self._runs)):
            code, number, digest, index, seq = _RECORD.unpack(record)
            if previous is not None and previous[:2] == (code, number):
                raise RefusedPackage(
                    f"{what}: events {min(previous[2], seq)} and {max(previous[2], seq)} carry "
                    f"receipt {code:08d}-{number:010d}: a receipt is issued or imported once"
                )
            previous = (code, number, seq)
            sharing = self._sharings[index - 1] if index else None
            yield Carried(f"{code:08d}", number, digest.hex(), sharing, seq)

    def _records(self, offset: int, count: int) -> Iterator[bytes]:
        """One run's records, read from the file a block at a time."""
        size = _RECORD.size
        end = offset + count * size
        fd = self._file.fileno()
        while offset < end:
            block = os.pread(fd, min(_BLOCK, end - offset), offset)
            if not block or len(block) % size:
                raise OSError("the import's temporary file of carried receipts was cut short")
            offset += len(block)
            for start in range(0, len(block), size):
                yield block[start : start + size]

    def close(self) -> None:
        """Give the temporary file back (it has no name: nothing is left on disk either way)."""
        self._file.close()
