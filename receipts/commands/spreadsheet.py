"""CSV files for spreadsheets, as the reports of ``stats --csv`` and ``reconcile … --csv`` write
them: UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese names right), CRLF
line ends, and written atomically (a reader sees the old file or the whole new one)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from receipts.support.atomic import atomic_writer

__all__ = ["spreadsheet_csv"]


@contextmanager
def spreadsheet_csv(path: Path) -> Iterator[TextIO]:
    """A text handle for :mod:`csv` writers whose content replaces ``path`` when the block ends
    without an exception (on one, ``path`` is left as it was)."""
    with atomic_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        yield text
        text.flush()
        # The binary handle stays open: atomic_writer syncs it to disk and renames the file.
        text.detach()
