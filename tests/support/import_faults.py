"""What a verifying worker of ``transmit import`` runs in the streaming tests
(tests/test_transmission_streaming.py): module-level, so a worker process can import it."""

from __future__ import annotations

import os

from receipts.transmission.verify_pool import Member, Verified, verify_chunk

__all__ = ["CHUNK", "at_most_chunk", "chunk_bytes", "crash", "refuse_seventh"]

#: The chunk size the tests configure.
CHUNK = 3


def at_most_chunk(chunk: list[Member]) -> list[Verified]:
    """Verify as usual, but refuse a chunk larger than :data:`CHUNK` (it must never come)."""
    if len(chunk) > CHUNK:
        return [Verified(name, f"chunk of {len(chunk)}") for name, _ in chunk]
    return verify_chunk(chunk)


def refuse_seventh(chunk: list[Member]) -> list[Verified]:
    """Verify as usual, but refuse the package's seventh receipt (in the third chunk of 3)."""
    out = verify_chunk(chunk)
    return [
        Verified(v.name, "test-refusal: the seventh receipt") if v.name.endswith("07.xml") else v
        for v in out
    ]


def crash(chunk: list[Member]) -> list[Verified]:
    """Die like a worker killed by the kernel (out of memory) on the second chunk."""
    if any(name.endswith(("04.xml", "05.xml", "06.xml")) for name, _ in chunk):
        os._exit(9)
    return verify_chunk(chunk)


def chunk_bytes(chunk: list[Member]) -> list[Verified]:
    """Verify nothing: each receipt's problem names how many bytes its chunk held."""
    total = sum(len(xml) for _, xml in chunk)
    return [Verified(name, f"chunk of {total} bytes") for name, _ in chunk]
