"""A damaged member of a package is a refusal naming it, never an unexpected error (a flipped
byte in a deflate stream fails in zlib before the zip's CRC is checked)."""

from __future__ import annotations

import zlib

import pytest

from receipts.support.safezip import UnsafeArchive, read_zip, write_zip


def _damaged_in_zlib() -> bytes:
    """A zip whose one member's deflate stream has a byte that makes zlib itself fail."""
    text = "".join(f"<Receipt n='{n}'>工会经费</Receipt>\n" for n in range(200)).encode()
    data = write_zip({"receipts/a.xml": text})
    start = data.index(b"receipts/a.xml") + len(b"receipts/a.xml")  # the local header's name
    for offset in range(start, start + 400):
        for flip in (0xFF, 0x80, 0x01):
            damaged = bytearray(data)
            damaged[offset] ^= flip
            stream = bytes(damaged[start:])
            try:
                zlib.decompressobj(-zlib.MAX_WBITS).decompress(stream)
            except zlib.error:
                return bytes(damaged)
    raise AssertionError("no byte found whose flip breaks the deflate stream")


def test_a_deflate_stream_zlib_refuses_is_a_damaged_member() -> None:
    with pytest.raises(UnsafeArchive, match=r"member 'receipts/a.xml' is damaged"):
        read_zip(_damaged_in_zlib(), "package.zip")
