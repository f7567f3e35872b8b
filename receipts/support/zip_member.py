"""Reading one zip member from a shared file handle (:mod:`receipts.support.zip_directory`):
a window on the file read at its own position, and the member's content inflated from it with
zlib (raw deflate, or stored), never beyond its declared size + 1, refused at its end unless it
is exactly that size with its CRC-32.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO, NamedTuple

from receipts.support.safezip import UnsafeArchive

__all__ = ["WHOLE_READ_LIMIT", "Entry", "MemberReader", "Window", "read_whole"]

_CHUNK = 64 * 1024

#: Members up to this size (compressed and inflated) are read by :func:`read_whole`.
WHOLE_READ_LIMIT = 1 << 20


class Entry(NamedTuple):
    """What reading one member needs from its central directory entry."""

    name: str
    offset: int
    """Where its local header starts."""
    compress_size: int
    file_size: int
    crc: int
    method: int


class Window(io.RawIOBase):
    """``size`` bytes of ``handle`` from ``start``, read at its own position (the handle is
    shared: a receipt member is read between two lines of the listing member)."""

    def __init__(self, handle: BinaryIO, start: int, size: int) -> None:
        self._handle, self._pos, self._left = handle, start, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        self._handle.seek(self._pos)
        data = self._handle.read(want)
        buffer[: len(data)] = data
        self._pos += len(data)
        self._left = 0 if not data else self._left - len(data)
        return len(data)


class MemberReader(io.RawIOBase):
    """A member's content: its ``compress_size`` bytes inflated (or stored), never more than
    its declared size + 1; at the end, refused unless exactly its size and CRC."""

    def __init__(self, handle: BinaryIO, start: int, entry: Entry, what: str) -> None:
        self._source = Window(handle, start, entry.compress_size)
        self._entry, self._what = entry, what
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS) if entry.method else None
        self._tail = b""
        self._produced = self._crc = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        room = min(len(buffer), self._entry.file_size + 1 - self._produced)
        try:
            data = self._next(room) if room > 0 else b""
        except zlib.error as exc:
            raise self._damaged(str(exc)) from None
        if not data:
            self._end()
            return 0
        buffer[: len(data)] = data
        self._produced += len(data)
        self._crc = zlib.crc32(data, self._crc)
        if self._produced > self._entry.file_size:
            raise UnsafeArchive(
                f"{self._what}: member {self._entry.name!r} is not the size it claims"
            )
        return len(data)

    def _next(self, room: int) -> bytes:
        while True:
            if self._inflate is None:
                return self._read(room)
            if self._inflate.eof:
                return b""
            source = self._tail or self._read(_CHUNK)
            if not source:
                return b""
            data = self._inflate.decompress(source, room)
            self._tail = self._inflate.unconsumed_tail
            if data:
                return data

    def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        got = self._source.readinto(memoryview(buffer))
        return bytes(buffer[:got])

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._inflate is not None and not self._inflate.eof:
            raise self._damaged("the deflate stream is cut short")
        if self._produced != self._entry.file_size:
            raise UnsafeArchive(
                f"{self._what}: member {self._entry.name!r} is not the size it claims"
            )
        if self._crc != self._entry.crc:
            raise self._damaged("Bad CRC-32")

    def _damaged(self, why: str) -> UnsafeArchive:
        return _damaged(self._entry, self._what, why)


def read_whole(handle: BinaryIO, start: int, entry: Entry, what: str) -> bytes:
    """A small member's content (``compress_size`` and ``file_size`` at most
    :data:`WHOLE_READ_LIMIT`) read in one read and inflated in one call, with the checks
    :class:`MemberReader` makes as it streams: never more than its size + 1 inflated, refused
    unless exactly its size with its CRC-32, trailing bytes after the deflate stream's end
    ignored as the stream ignores them. A receipt member is read this way: through the
    buffered stream, the reads, copies and calls of its few chunks cost about as much as the
    inflating (docs/operations.md, "Importing large packages")."""
    if max(entry.compress_size, entry.file_size) > WHOLE_READ_LIMIT:
        raise ValueError(f"member {entry.name!r} is too large to be read whole")
    handle.seek(start)
    raw = handle.read(entry.compress_size)
    size_error = UnsafeArchive(f"{what}: member {entry.name!r} is not the size it claims")
    if entry.method:
        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            data = inflate.decompress(raw, entry.file_size + 1)
        except zlib.error as exc:
            raise _damaged(entry, what, str(exc)) from None
        if len(data) > entry.file_size:
            raise size_error
        if not inflate.eof:
            raise _damaged(entry, what, "the deflate stream is cut short")
    else:
        data = raw[: entry.file_size + 1]
    if len(data) != entry.file_size:
        raise size_error
    if zlib.crc32(data) != entry.crc:
        raise _damaged(entry, what, "Bad CRC-32")
    return data


def _damaged(entry: Entry, what: str, why: str) -> UnsafeArchive:
    return UnsafeArchive(f"{what}: member {entry.name!r} is damaged: {why}")
