"""Verifying a package's receipts in worker processes (docs/operations.md, "Importing large
packages"): each worker is started once with the workspace's trust (its bundle as PEM bytes) and
then verifies chunks of receipts, each a list of (member name, bytes); what comes back is the
verified receipt, its time-stamp's check, or the problem, in the order the chunks went in.

Verification is what an import spends its time on (a receipt's signature, certificate chain,
QR seal and time-stamp); storing is COPY. With ``workers`` = 0, or a package of one chunk, the
importing process verifies itself: starting workers costs more than they would save.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from receipts.domain.model import Receipt
from receipts.domain.signed_documents import chain_validator
from receipts.errors import EnvironmentFailure
from receipts.support.pools import map_chunks, process_pool, take_chunk
from receipts.verify.receipt import verify_receipt_xml
from signing.result import Finding
from signing.timestamps import TokenCheck, check_token
from signing.trust import ChainValidator, TrustBundle
from signing.xades_t import TimestampError, signature_timestamp_input, split_signature_timestamp

__all__ = ["Verified", "verified_chunks", "verify_chunk"]

Member = tuple[str, bytes]
"""A receipt member: its path in the package and its bytes."""

CHUNK_BYTES = 8 * 1024 * 1024
"""A chunk also ends at this many bytes of receipts: a receipt member may have up to 1,000,000
bytes before it is verified, and chunks are counted in receipts (2,000 of ~6 KB are 12 MB), so a
package of padded receipts held workers + 1 chunks of 2 GB in memory."""


def _member_size(member: Member) -> int:
    return len(member[1])


@dataclass(frozen=True)
class Verified:
    """One receipt of a chunk, verified (``problem`` None) or refused."""

    name: str
    problem: str | None = None
    """Why the receipt is refused: ``code: message``."""
    receipt: Receipt | None = None
    issued: bytes = b""
    """The XML as issued (a time-stamp it travelled with taken out)."""
    digest: str = ""
    """SHA-256 of the XML as issued."""
    token: bytes | None = None
    """The signature time-stamp the receipt travelled with."""
    token_check: TokenCheck | None = None
    """What that time-stamp says (verified)."""


# The worker's trust, set once by _start (a worker verifies many chunks).
_worker: dict[str, object] = {}


def verify_one(name: str, xml: bytes, validator: ChainValidator, tolerance: timedelta) -> Verified:
    """Verify one receipt member as ``receipts verify`` does, its time-stamp with it."""
    try:
        # The listed digest is the receipt's as issued: a time-stamp is not part of it.
        issued, token = split_signature_timestamp(xml)
    except TimestampError as exc:
        return Verified(name, str(exc))
    result = verify_receipt_xml(xml, validator, name, tolerance=tolerance)
    if not result.valid or result.receipt is None or result.digest is None:
        first = result.findings[0]
        return Verified(name, f"{first.code}: {first.message}")
    check = None
    if token is not None:
        found = check_token(token, signature_timestamp_input(issued), validator)
        if isinstance(found, Finding):  # verified with the receipt already: cannot happen
            return Verified(name, found.message)
        check = found
    return Verified(name, None, result.receipt, issued, result.digest, token, check)


def verify_chunk(chunk: list[Member]) -> list[Verified]:
    """A chunk verified in a worker (with the trust it was started with)."""
    validator = _worker["validator"]
    tolerance = _worker["tolerance"]
    assert isinstance(validator, ChainValidator) and isinstance(tolerance, timedelta)
    return [verify_one(name, xml, validator, tolerance) for name, xml in chunk]


def _start(bundle_pem: bytes, require_crl: bool, tolerance_seconds: float) -> None:
    bundle = TrustBundle.from_pem(bundle_pem)
    _worker["validator"] = chain_validator(bundle, require_crl=require_crl)
    _worker["tolerance"] = timedelta(seconds=tolerance_seconds)


@contextmanager
def verified_chunks(
    members: Iterable[Member],
    validator: ChainValidator,
    tolerance: timedelta,
    *,
    workers: int,
    chunk: int,
    verify: Callable[[list[Member]], list[Verified]] = verify_chunk,
) -> Iterator[Iterator[list[Verified]]]:
    """Chunks of ``chunk`` verified receipts, in order, from ``members`` (read lazily: at most
    ``workers`` + 1 chunks are in flight). ``verify`` is the worker's function (a test passes
    one that crashes); a worker that dies is an :class:`EnvironmentFailure`, not a refusal."""
    if workers <= 0:
        yield _in_process(members, validator, tolerance, chunk)
        return
    initargs = (validator.bundle.to_pem(), validator.require_crl, tolerance.total_seconds())
    pool = process_pool(workers, _start, initargs, preload=[__name__])
    try:
        results = map_chunks(
            pool, verify, members, chunk, workers + 1, size=_member_size, max_bytes=CHUNK_BYTES
        )
        yield _regrouped(results, chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_process(
    members: Iterable[Member], validator: ChainValidator, tolerance: timedelta, chunk: int
) -> Iterator[list[Verified]]:
    source = iter(members)
    while batch := take_chunk(source, chunk, _member_size, CHUNK_BYTES):
        yield [verify_one(name, xml, validator, tolerance) for name, xml in batch]


def _regrouped(results: Iterator[Verified], chunk: int) -> Iterator[list[Verified]]:
    try:
        while batch := list(islice(results, chunk)):
            yield batch
    except BrokenProcessPool:
        raise EnvironmentFailure(
            "a receipt-verifying worker process died (out of memory, or killed); nothing was "
            "imported: run the import again"
        ) from None
