"""CSV files for spreadsheets, as the reports of ``stats --csv`` and ``reconcile … --csv`` write
them: UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese names right), CRLF
line ends, and written atomically (a reader sees the old file or the whole new one).

Every CSV the product writes goes through :func:`spreadsheet_csv`, which neutralises formula
injection as OWASP recommends ("CSV Injection"): a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a single quote in front, so a spreadsheet shows it as text
instead of running it (payer names and bank references come from outside: a name such as
``=cmd|' /C calc'!A0`` must reach the clerk's screen as those characters). Embedded double quotes
are doubled and such cells quoted, per RFC 4180, by :mod:`csv`. Which cells are numbers is decided
by the column (``numeric``), never by the content: ``-12.50`` in an amount column stays a number,
the same characters in a name column become ``'-12.50``. See ``docs/security.md``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from receipts.support.atomic import atomic_writer

__all__ = ["FORMULA_PREFIXES", "SheetWriter", "number_cell", "spreadsheet_csv", "text_cell"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters with which a spreadsheet program reads a cell as a formula (OWASP's list)."""

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def text_cell(value: object) -> str:
    """``value`` as a text cell: ``None`` is empty; a formula prefix gets a ``'`` in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def number_cell(value: object) -> str:
    """``value`` as a number cell: an ``int``, a ``Decimal`` or a plain decimal numeral (``-12.50``)
    is written as it is; anything else in a number column is treated as text (neutralised), so a
    column's type can never let a formula through."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return text if _NUMBER.match(text) else text_cell(text)


class SheetWriter:
    """Writes the rows of one table, each cell typed by its column (text unless ``numeric``)."""

    def __init__(self, handle: TextIO, columns: Sequence[str], numeric: Collection[str]):
        unknown = set(numeric) - set(columns)
        if unknown:
            raise ValueError(f"numeric columns not in the table: {sorted(unknown)}")
        self._columns = tuple(columns)
        self._is_number = tuple(c in numeric for c in columns)
        self._writer = csv.writer(handle)
        self._writer.writerow([text_cell(c) for c in columns])

    def row(self, values: Sequence[object]) -> None:
        """One row, its values in the order of the columns."""
        if len(values) != len(self._columns):
            raise ValueError(f"{len(values)} values for {len(self._columns)} columns")
        self._writer.writerow(
            number_cell(v) if is_number else text_cell(v)
            for v, is_number in zip(values, self._is_number, strict=True)
        )

    def record(self, values: Mapping[str, Any]) -> None:
        """One row from a mapping of column name to value (a missing column is empty)."""
        self.row([values.get(c) for c in self._columns])


@contextmanager
def spreadsheet_csv(
    path: Path, columns: Sequence[str], numeric: Collection[str] = ()
) -> Iterator[SheetWriter]:
    """A writer of a table with these ``columns`` (the header row is written first) whose file
    replaces ``path`` when the block ends without an exception (on one, ``path`` is left as it
    was). ``numeric`` names the columns that hold numbers (counts, amounts)."""
    with atomic_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        yield SheetWriter(text, columns, numeric)
        text.flush()
        # The binary handle stays open: atomic_writer syncs it to disk and renames the file.
        text.detach()
