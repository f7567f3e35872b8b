"""How large a file from outside may be, and reading one without holding more than that.

Every command that reads a file someone else made (a receipt to verify, a package, an archive, a
batch, a bank statement, a reconciliation file, a trust bundle) reads it with
:func:`read_bounded`: the size is checked before anything is read (``stat`` for a regular file;
for a pipe or a device, a read of at most the limit plus one byte), so an oversized file is refused
with one clear error and never reaches memory whole. The zip limits are in
:mod:`receipts.support.safezip`.

How the limits were chosen: the largest regular volume is a month's package of a city federation
of about 10,000 receipts (a big city's monthly batch; provinces and the national federation issue
far fewer themselves) at about 6 KB of signed XML each, 60 MB; an archive of that month adds the
receipts' PDFs (tens of KB each with their embedded font subset) and metadata. Each limit below
leaves a few times the headroom over what a real file of its kind weighs, and stays far below what
would hurt a clerk's 4-8 GB machine. See ``docs/security.md``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from receipts.errors import InvalidInput

__all__ = [
    "MAX_BANK_STATEMENT_BYTES",
    "MAX_BATCH_FILE_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_PACKAGE_FILE_BYTES",
    "MAX_PDF_BYTES",
    "MAX_PEM_BYTES",
    "MAX_XML_FILE_BYTES",
    "FileTooLarge",
    "read_bounded",
]

_MIB = 1024 * 1024

MAX_XML_FILE_BYTES = 16 * _MIB
"""An XML file: a receipt is ~6 KB and signed documents are parsed only up to 1,000,000 bytes
(``signing.xmlparse.MAX_XML_BYTES``); the unsigned reconciliation request may have 16,000,000
(``receipts.reconcile.summary_file.MAX_REQUEST_BYTES``), so 16 MiB covers every XML file read."""
MAX_PDF_BYTES = 32 * _MIB
"""A receipt PDF: one page with an embedded font subset and its XML, tens of KB; a PAdES
signature adds its certificates and CRLs. 32 MiB is hundreds of times that."""
MAX_BATCH_FILE_BYTES = 64 * _MIB
"""A batch file (CSV or JSON lines): a month of 10,000 rows of ~300 bytes is 3 MB; 64 MiB
allows twenty times that (about 200,000 rows)."""
MAX_BANK_STATEMENT_BYTES = 64 * _MIB
"""A bank statement: a month's credits, one line of ~150 bytes each; 64 MiB is hundreds of
thousands of lines."""
MAX_PACKAGE_FILE_BYTES = 512 * _MIB
"""A zip file (transmission package, archive, stock allocation file): the file itself, before its
members are checked against :class:`receipts.support.safezip.ZipLimits` (which bounds what they
inflate to); a month's package of 60 MB compresses to less, an archive with PDFs does not."""
MAX_MANIFEST_BYTES = 64 * _MIB
"""The signed manifest of a transmission package or an archive, which lists every receipt it
carries (~265 bytes each): 10,000 receipts make 2.6 MB, past the 1,000,000 bytes a receipt or a
small signed document may have, so a manifest is parsed up to 64 MiB (about 250,000 receipts per
package; larger exports are a national-scale question, docs/operations.md)."""
MAX_PEM_BYTES = 16 * _MIB
"""A trust bundle, a certificate or a CSR: a bundle with every federation's certificate (a few
thousand, ~1.5 KB each) and CRLs is a few MB."""


class FileTooLarge(InvalidInput):
    """A file from outside is larger than what its kind may be."""


def read_bounded(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of ``path``, refusing (with :class:`FileTooLarge`) a file over ``limit`` bytes
    before reading it; ``kind`` names what the file should be in the message ("a batch file").
    A pipe or a device (``/dev/stdin``) is read up to ``limit`` + 1 bytes, never further.
    ``OSError`` (a missing or unreadable file) propagates for the caller to report."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise FileTooLarge(_message(path, f"{info.st_size:,} bytes", limit, kind))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(_message(path, f"over {limit:,} bytes", limit, kind))
    return data


def _message(path: Path, size: str, limit: int, kind: str) -> str:
    return f"{path} is too large for {kind}: {size}, at most {limit:,} are accepted"
