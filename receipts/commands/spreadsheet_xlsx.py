"""Excel workbooks (.xlsx) for the reports of ``stats --xlsx`` and ``reconcile … --xlsx``, written
with openpyxl (never hand-written sheet XML) beside the CSV files of
:mod:`receipts.commands.spreadsheet`, with the same typing of cells by column.

One sheet with a Chinese name (统计, 对账), a bold header row that stays in view (frozen panes at
``A2``), column widths fitted to the content (a CJK character counted twice, at most 60), and:

- **number columns** (``numeric``): an ``int`` is written as a whole number (format ``0``); a
  ``Decimal`` or a decimal numeral such as ``-12.50`` as an exact number with the format
  ``#,##0.00``; anything else in a number column is written as text, as in the CSV file;
- **text cells** are typed as strings explicitly (``t="inlineStr"``), so a payer named
  ``=HYPERLINK("http://…")`` is shown as those characters and never run as a formula (openpyxl
  would otherwise store any text beginning with ``=`` as a formula). Text is kept verbatim, with no
  ``'`` in front as the CSV file needs; characters XML cannot hold become U+FFFD.

The workbook replaces ``path`` atomically, when the block ends without an exception
(docs/formats.md, "Excel workbooks").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from receipts.support.atomic import atomic_writer

__all__ = ["AMOUNT_FORMAT", "COUNT_FORMAT", "XlsxSheetWriter", "spreadsheet_xlsx"]

AMOUNT_FORMAT = "#,##0.00"
"""The number format of amounts (yuan, two decimals, thousands separated)."""
COUNT_FORMAT = "0"
"""The number format of whole numbers (counts, receipt numbers)."""

_NUMERAL = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
_MAX_WIDTH = 60


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class XlsxSheetWriter:
    """Writes the rows of one table into a worksheet, each cell typed by its column."""

    def __init__(self, sheet: Worksheet, columns: Sequence[str], numeric: Collection[str]):
        unknown = set(numeric) - set(columns)
        if unknown:
            raise ValueError(f"numeric columns not in the table: {sorted(unknown)}")
        self._sheet = sheet
        self._columns = tuple(columns)
        self._is_number = tuple(c in numeric for c in columns)
        self._widths = [_width(c) for c in columns]
        self._row = 1
        for n, column in enumerate(columns, 1):
            self._text(n, column).font = Font(bold=True)

    def _text(self, column: int, value: object) -> Any:
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", "" if value is None else str(value))
        cell = self._sheet.cell(row=self._row, column=column)
        if text:
            cell.value = text
            cell.data_type = "s"  # a string, even when it starts with "=": never a formula
        self._widths[column - 1] = max(self._widths[column - 1], _width(text))
        return cell

    def _number(self, column: int, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            self._text(column, value)
            return
        if isinstance(value, str):
            if not _NUMERAL.match(value):
                self._text(column, value)
                return
            value = int(value) if "." not in value else Decimal(value)
        cell = self._sheet.cell(row=self._row, column=column, value=value)
        cell.number_format = COUNT_FORMAT if isinstance(value, int) else AMOUNT_FORMAT
        shown = f"{value:,.2f}" if isinstance(value, Decimal) else str(value)
        self._widths[column - 1] = max(self._widths[column - 1], len(shown))

    def row(self, values: Sequence[object]) -> None:
        """One row, its values in the order of the columns."""
        if len(values) != len(self._columns):
            raise ValueError(f"{len(values)} values for {len(self._columns)} columns")
        self._row += 1
        for n, (value, is_number) in enumerate(zip(values, self._is_number, strict=True), 1):
            if value is None or value == "":
                continue
            if is_number:
                self._number(n, value)
            else:
                self._text(n, value)

    def record(self, values: Mapping[str, Any]) -> None:
        """One row from a mapping of column name to value (a missing column is empty)."""
        self.row([values.get(c) for c in self._columns])

    def finish(self) -> None:
        """Freeze the header row and fit the column widths."""
        self._sheet.freeze_panes = "A2"
        for n, width in enumerate(self._widths, 1):
            letter = get_column_letter(n)
            self._sheet.column_dimensions[letter].width = min(width + 2, _MAX_WIDTH)


@contextmanager
def spreadsheet_xlsx(
    path: Path, columns: Sequence[str], numeric: Collection[str] = (), *, sheet: str
) -> Iterator[XlsxSheetWriter]:
    """A writer of a table with these ``columns`` on a sheet named ``sheet``, whose workbook
    replaces ``path`` when the block ends without an exception (on one, ``path`` is left as it
    was). ``numeric`` names the columns that hold numbers (counts, amounts)."""
    workbook = Workbook()
    worksheet = workbook.active
    assert isinstance(worksheet, Worksheet)
    worksheet.title = sheet
    writer = XlsxSheetWriter(worksheet, columns, numeric)
    yield writer
    writer.finish()
    with atomic_writer(path) as raw:
        workbook.save(raw)
