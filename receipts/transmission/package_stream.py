"""A transmission package opened for import without holding it in memory (docs/operations.md,
"Importing large packages"): the zip's central directory is checked first, in one streaming
pass that keeps ~37 bytes per receipt member (:mod:`receipts.support.zip_directory`, with the
limits of ``[transmission]``), then
the signed manifest is verified and the small members (allocations, registry, CRLs, statements)
are read; the receipts are read one at a time when their chunk is verified, and the chain
fragment (``events.jsonl``) and, in a version 2 package, the receipt listing (``receipts.csv``,
:mod:`receipts.transmission.listing`) line by line. Every member is held to its digest in the signed
manifest as it is read; a package that fails a check after its transaction began rolls it back.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from receipts.support.safezip import UnsafeArchive
from receipts.support.sizes import MAX_MANIFEST_BYTES, FileTooLarge
from receipts.support.zip_directory import ZipDirectory, read_directory
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.listing import LINE_BYTES, read_listing
from receipts.transmission.package import (
    LISTING,
    RECEIPTS_DIR,
    ListedReceipt,
    Manifest,
    RefusedPackage,
    check_member_names,
    verify_manifest,
)
from signing.trust import ChainValidator
from signing.xmlparse import MAX_XML_BYTES

__all__ = ["EVENTS", "StreamedPackage", "open_package", "receipt_member"]

EVENTS = "events.jsonl"
_RECEIPTS = RECEIPTS_DIR
#: Streamed members: read line by line, never whole.
_STREAMED = (EVENTS, LISTING)
#: One event line at most: a receipt's event is ~630 bytes; a settlement's names its lines.
_MAX_EVENT_LINE = 1024 * 1024
_RECEIPT_NAME = re.compile(r"receipts/([0-9]{8})-([0-9]{10})\.xml")
_NUMBERS = 10**10


def receipt_member(code: str, number: int) -> str:
    """The member path of a receipt."""
    return f"{_RECEIPTS}{code}-{number:010d}.xml"


class _ReceiptNames:
    """Receipt members by a number, code and number side by side (``CODE * 10^10 + NUMBER``,
    under 2^63): the zip directory keeps them in arrays. A member under ``receipts/`` named
    otherwise is kept by name, and counted as a receipt member like the others."""

    def key(self, name: str) -> int | None:
        found = _RECEIPT_NAME.fullmatch(name)
        return None if found is None else int(found[1]) * _NUMBERS + int(found[2])

    def name(self, key: int) -> str:
        return receipt_member(f"{key // _NUMBERS:08d}", key % _NUMBERS)


@dataclass
class StreamedPackage:
    """An opened package: its verified manifest, the sender's certificate, the small members
    read, and the receipts and events left in the zip until they are asked for."""

    manifest: Manifest
    signer: x509.Certificate
    members: dict[str, bytes]
    """Every member but the manifest, the receipts and the events, digest-checked."""
    what: str
    _zip: ZipDirectory

    def receipt(self, name: str) -> bytes | None:
        """The receipt member ``name`` (digest-checked), None when the package lacks it."""
        entry = self._zip.find(name)
        if entry is None or not name.startswith(_RECEIPTS):
            return None
        if entry.file_size > MAX_XML_BYTES:
            raise RefusedPackage(f"{self.what}: {name} is larger than a receipt may be")
        content = self._zip.read(entry)
        if self.manifest.version != 1:
            return content  # held to its listed digest once verified (the listing is signed)
        return self._checked(name, content)

    def listed(self) -> Iterator[ListedReceipt]:
        """The listed receipts in the listing's order: version 1's from the manifest; version
        2's read from ``receipts.csv`` as they are consumed, each line checked and the
        member's digest once the last has been read
        (:func:`receipts.transmission.listing.read_listing`)."""
        if self.manifest.version == 1:
            yield from self.manifest.receipts
            return
        yield from read_listing(self._lines(LISTING, LINE_BYTES), self.manifest, self.what)

    def event_lines(self) -> Iterator[bytes]:
        """The lines of ``events.jsonl``, read as they are consumed; its digest is checked when
        the last line has been read (the caller refuses the package before committing)."""
        return self._lines(EVENTS, _MAX_EVENT_LINE)

    def _lines(self, name: str, longest: int) -> Iterator[bytes]:
        entry = self._zip.others.get(name)
        if entry is None:
            raise RefusedPackage(f"{self.what}: no {name}")
        running = hashlib.sha256()
        try:
            with self._zip.open(entry) as member:
                while line := member.readline(longest + 1):
                    if len(line) > longest:
                        raise RefusedPackage(
                            f"{self.what}: {name} has a line over {longest:,} bytes"
                        )
                    running.update(line)
                    yield line
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise UnsafeArchive(f"{self.what}: member {name!r} is damaged: {exc}") from None
        if running.hexdigest() != self.manifest.members.get(name):
            raise RefusedPackage(
                f"{self.what}: member {name} was changed (digest differs from the signed manifest)"
            )

    def _checked(self, name: str, content: bytes) -> bytes:
        if hashlib.sha256(content).hexdigest() != self.manifest.members.get(name):
            raise RefusedPackage(
                f"{self.what}: member {name} was changed (digest differs from the signed manifest)"
            )
        return content


@contextmanager
def open_package(
    source: Path | bytes, validator: ChainValidator, what: str, settings: ImportSettings
) -> Iterator[StreamedPackage]:
    """Open the package ``source`` (a file, read as needed; or bytes already received)."""
    with _opened(source, settings, what) as (handle, size):
        directory = read_directory(handle, size, settings.zip_limits, _ReceiptNames(), what)
        members = directory.keyed_count + len(directory.others)
        others = directory.others
        manifest_entry = others.pop("manifest.xml", None)
        if manifest_entry is None:
            raise RefusedPackage(f"{what} has no manifest.xml")
        # The count is the unsigned central directory's: it may raise the bound, never past
        # MAX_MANIFEST_BYTES (a version 1 manifest of ~250,000 receipts; version 2 stays small).
        limit = min(settings.listing_bytes(members), MAX_MANIFEST_BYTES)
        if manifest_entry.file_size > limit:
            raise RefusedPackage(
                f"{what}: manifest.xml is {manifest_entry.file_size:,} bytes; at most "
                f"{limit:,} are accepted"
            )
        manifest, signer = verify_manifest(directory.read(manifest_entry), validator, what, limit)
        _check_size(manifest, settings, what)
        if manifest.version == 1:  # every member is in its manifest: names for a small package
            check_member_names(set(others) | set(directory.keyed_names()), manifest, what)
        else:
            check_member_names(set(others), manifest, what, directory.keyed_count)
        package = StreamedPackage(manifest, signer, {}, what, directory)
        for name, entry in others.items():
            if name not in _STREAMED and not name.startswith(_RECEIPTS):
                package.members[name] = package._checked(name, directory.read(entry))
        yield package


def _check_size(manifest: Manifest, settings: ImportSettings, what: str) -> None:
    if manifest.receipt_count > settings.max_receipts:
        raise RefusedPackage(
            f"{what} carries {manifest.receipt_count:,} receipts; at most "
            f"{settings.max_receipts:,} are accepted ([transmission] max_receipts)"
        )


@contextmanager
def _opened(
    source: Path | bytes, settings: ImportSettings, what: str
) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(source, bytes):
        yield io.BytesIO(source), len(source)
        return
    with open(source, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RefusedPackage(f"{what} is not a regular file")
        if info.st_size > settings.max_file_bytes:
            raise FileTooLarge(
                f"{source} is too large for a transmission package: {info.st_size:,} bytes, "
                f"at most {settings.max_file_bytes:,} are accepted ([transmission] max_receipts)"
            )
        yield handle, info.st_size
