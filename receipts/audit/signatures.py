"""The audit's strongest check: every stored receipt's XML signature, verified against the
workspace's trust bundle as :mod:`receipts.verify` verifies a file (``docs/security.md``).

Hashes and chain heads say the ledger is the one its key signed; a receipt's own signature says
its content is what its issuer signed, which an insider who rewrites the ledger and every hash
in it cannot forge without the issuer's key. Receipts are verified in worker processes, a chunk
at a time, with a few chunks in flight, so memory stays bounded on a ledger of any size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.signed_documents import chain_validator
from receipts.findings import Finding, FindingCode
from receipts.ledger.models import ReceiptRow
from receipts.support.pools import map_chunks, process_pool
from receipts.verify.receipt import verify_receipt_xml
from signing.trust import ChainValidator, TrustBundle

__all__ = ["check_signatures"]

_CHUNK = 32
_Stored = tuple[str, bytes]
_worker: ChainValidator | None = None


def check_signatures(session: Session, bundle: TrustBundle, workers: int) -> list[Finding]:
    """A finding for every stored receipt whose signed XML does not verify; ``workers``
    processes (this one when 1)."""
    query = (
        select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.xml)
        .order_by(ReceiptRow.code, ReceiptRow.number)
        .execution_options(yield_per=256)
    )
    stored = ((f"{code}-{number:010d}", bytes(xml)) for code, number, xml in session.execute(query))
    return [
        Finding(FindingCode.RECEIPT_SIGNATURE_INVALID, f"receipt {label}: {problem}")
        for label, problem in _verified(stored, bundle, workers)
    ]


def _verified(
    stored: Iterator[_Stored], bundle: TrustBundle, workers: int
) -> Iterator[tuple[str, str]]:
    if workers <= 1:
        yield from _problems(stored, chain_validator(bundle))
        return
    with process_pool(workers, _init, (bundle.to_pem(),)) as pool:
        yield from map_chunks(pool, _verify_chunk, stored, _CHUNK, workers * 3)


def _problems(stored: Iterable[_Stored], validator: ChainValidator) -> Iterator[tuple[str, str]]:
    for label, xml in stored:
        result = verify_receipt_xml(xml, validator, label)
        if not result.valid:
            first = result.findings[0]
            yield label, f"its signature does not hold ({first.code}: {first.message})"


def _init(bundle_pem: bytes) -> None:
    global _worker
    _worker = chain_validator(TrustBundle.from_pem(bundle_pem))


def _verify_chunk(chunk: list[_Stored]) -> list[tuple[str, str]]:
    assert _worker is not None
    return list(_problems(chunk, _worker))
