"""Verifying many receipt files (XML or PDF) on all cores with bounded memory.

Each worker builds one chain validator from the trust bundle, so a certificate chain is built
once per worker, not once per receipt; paths travel in chunks with a few chunks in flight, and
results come back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from receipts.domain.signed_documents import chain_validator
from receipts.findings import Finding, FindingCode
from receipts.support.pools import map_chunks, process_pool
from receipts.support.sizes import MAX_PDF_BYTES, FileTooLarge, read_bounded
from receipts.verify.receipt import ReceiptVerification, verify_receipt_xml
from signing.trust import ChainValidator, TrustBundle
from signing.xades_t import DEFAULT_TOLERANCE

__all__ = ["iter_receipt_files", "verify_file", "verify_files"]

_CHUNK = 16
_SUFFIXES = {".xml", ".pdf"}
_worker: tuple[ChainValidator, str | None, timedelta] | None = None


def iter_receipt_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and the ``.xml``/``.pdf`` files under directories (sorted, recursive)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=None):
                dirs.sort()
                for name in sorted(files):
                    child = Path(root) / name
                    if child.suffix.lower() in _SUFFIXES:
                        yield child
        else:
            yield path


def verify_file(
    path: Path,
    validator: ChainValidator,
    font: str | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> ReceiptVerification:
    """Verify one file; an unreadable, oversized or empty file is an invalid result, never an
    exception. The size is checked before the file is read (an XML receipt is then refused by
    the XML parser over 1,000,000 bytes; a PDF may have :data:`MAX_PDF_BYTES`). ``tolerance``:
    how far an XML receipt's claimed signing time may lie before its time-stamp
    (docs/security.md, "Time-stamps")."""
    source = str(path)
    try:
        data = read_bounded(path, MAX_PDF_BYTES, "a receipt")
    except OSError as exc:
        return ReceiptVerification(
            source, False, (Finding(FindingCode.UNREADABLE, f"cannot read: {exc.strerror}"),)
        )
    except FileTooLarge as exc:
        return ReceiptVerification(source, False, (Finding(FindingCode.UNREADABLE, str(exc)),))
    if not data:
        return ReceiptVerification(
            source, False, (Finding(FindingCode.EMPTY_FILE, "the file is empty"),)
        )
    if data.lstrip()[:5] == b"%PDF-" or path.suffix.lower() == ".pdf":
        from receipts.verify.pdf import verify_pdf

        return verify_pdf(data, validator, source, font)
    return verify_receipt_xml(data, validator, source, tolerance=tolerance)


def _init(bundle_pem: bytes, font: str | None, tolerance: timedelta) -> None:
    global _worker
    _worker = (chain_validator(TrustBundle.from_pem(bundle_pem)), font, tolerance)


def _verify_chunk(paths: list[Path]) -> list[ReceiptVerification]:
    assert _worker is not None
    validator, font, tolerance = _worker
    return [verify_file(p, validator, font, tolerance) for p in paths]


def verify_files(
    paths: Iterable[Path],
    bundle: TrustBundle,
    *,
    workers: int = 2,
    font: str | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> Iterator[ReceiptVerification]:
    """Verify every file, in order; ``workers`` processes (this one when 1)."""
    files = iter(paths)
    if workers <= 1:
        validator = chain_validator(bundle)
        for path in files:
            yield verify_file(path, validator, font, tolerance)
        return
    with process_pool(workers, _init, (bundle.to_pem(), font, tolerance)) as pool:
        yield from map_chunks(pool, _verify_chunk, files, _CHUNK, workers * 3)
