"""A zip written member by member to a file, in memory bounded whatever it holds
(docs/operations.md, "Importing large packages": ``transmit export`` of a million receipts):
each member is deflated and written as it comes, a large one streamed
(:meth:`ZipWriter.stream`, its local header completed afterwards), and the central directory
spooled to a temporary file as the members are written, where :mod:`zipfile` keeps an object
per member until it closes. Deterministic as :func:`receipts.support.safezip.write_zip`: fixed
timestamps, regular files 0644, zip64 records only where the sizes or the count need them.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from receipts.support.safezip import check_name

__all__ = ["MemberSink", "ZipWriter"]

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_SIZES = struct.Struct("<2H2Q")
_FULL32 = 0xFFFFFFFF
_DEFLATED = 8
_UTF8 = 0x800
#: 2000-01-01 00:00:00, as MS-DOS date and time (zip stores local times; a fixed one keeps
#: the same content byte-identical).
_DOS_DATE, _DOS_TIME = (2000 - 1980) << 9 | 1 << 5 | 1, 0
_ATTRIBUTES = (stat.S_IFREG | 0o644) << 16
_UNIX = 3
_SPOOL = 8 * 1024 * 1024


class MemberSink:
    """A member being written: its content deflated as it is given, its SHA-256 kept."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._sha = hashlib.sha256()
        self.crc = self.size = self.compressed = 0

    def write(self, data: bytes) -> None:
        """More of the member's content."""
        self._sha.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._emit(self._deflate.compress(data))

    def digest(self) -> str:
        """The SHA-256 (hex) of the content written so far."""
        return self._sha.hexdigest()

    def _finish(self) -> None:
        self._emit(self._deflate.flush())

    def _emit(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self.compressed += len(data)


class ZipWriter:
    """Members written to ``out`` (a seekable binary file, positioned at its start) one after
    the other; :meth:`close` writes the central directory. Names are checked as
    :func:`~receipts.support.safezip.write_zip` checks them; the caller writes each name once."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._pos = 0
        self._count = 0
        # Closed by close(): it lives as long as the writer.
        self._central = tempfile.SpooledTemporaryFile(_SPOOL)  # noqa: SIM115

    def add(self, name: str, data: bytes) -> str:
        """Write the member ``name`` (deflated first: its header states its sizes, nothing is
        written twice); its SHA-256 (hex)."""
        check_name(name)
        raw, flags = _encoded(name)
        offset = self._pos
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        compressed = deflate.compress(data) + deflate.flush()
        crc = zlib.crc32(data)
        header = _LOCAL.pack(
            b"PK\x03\x04",
            20,
            0,
            flags,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            len(compressed),
            len(data),
            len(raw),
            0,
        )
        self._write(header + raw)
        self._write(compressed)
        self._central_entry(raw, flags, offset, crc, len(data), len(compressed))
        return hashlib.sha256(data).hexdigest()

    @contextmanager
    def stream(self, name: str) -> Iterator[MemberSink]:
        """Write the member ``name`` from what the block gives the sink; its local header
        states zip64 sizes (the size is not known before), completed when the block ends."""
        check_name(name)
        raw, flags = _encoded(name)
        offset = self._pos
        header = _LOCAL.pack(
            b"PK\x03\x04",
            45,
            0,
            flags,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            0,
            _FULL32,
            _FULL32,
            len(raw),
            _ZIP64_SIZES.size,
        )
        self._write(header + raw + _ZIP64_SIZES.pack(1, 16, 0, 0))
        sink = MemberSink(self._out)
        yield sink
        sink._finish()
        self._pos += sink.compressed
        # The CRC and the sizes, now known, into the local header written before the data.
        self._out.seek(offset + 14)
        self._out.write(struct.pack("<L", sink.crc))
        self._out.seek(offset + _LOCAL.size + len(raw) + 4)
        self._out.write(struct.pack("<2Q", sink.size, sink.compressed))
        self._out.seek(self._pos)
        self._central_entry(raw, flags, offset, sink.crc, sink.size, sink.compressed)

    def close(self) -> None:
        """The central directory and the end records; ``out`` stays open."""
        start, size, count = self._pos, self._central.tell(), self._count
        self._central.seek(0)
        shutil.copyfileobj(self._central, self._out, 1024 * 1024)
        self._central.close()
        self._pos += size
        if count >= 0xFFFF or start >= _FULL32 or size >= _FULL32:
            end64 = self._pos
            self._write(_END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, start))
            self._write(_END64_LOCATOR.pack(b"PK\x06\x07", 0, end64, 1))
        self._write(
            _END.pack(
                b"PK\x05\x06",
                0,
                0,
                min(count, 0xFFFF),
                min(count, 0xFFFF),
                min(size, _FULL32),
                min(start, _FULL32),
                0,
            )
        )
        self._out.flush()

    def _central_entry(
        self, raw: bytes, flags: int, offset: int, crc: int, size: int, compressed: int
    ) -> None:
        big = [v for v in (size, compressed, offset) if v >= _FULL32]  # APPNOTE 4.5.3's order
        extra = struct.pack(f"<2H{len(big)}Q", 1, 8 * len(big), *big) if big else b""
        version = 45 if big else 20
        entry = _CENTRAL.pack(
            b"PK\x01\x02",
            version,
            _UNIX,
            version,
            0,
            flags,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            min(compressed, _FULL32),
            min(size, _FULL32),
            len(raw),
            len(extra),
            0,
            0,
            0,
            _ATTRIBUTES,
            min(offset, _FULL32),
        )
        self._central.write(entry + raw + extra)
        self._count += 1

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)


def _encoded(name: str) -> tuple[bytes, int]:
    """The name's bytes and flags: UTF-8, flagged so when it is not ASCII (as zipfile does)."""
    raw = name.encode("utf-8")
    return raw, 0 if raw.isascii() else _UTF8
