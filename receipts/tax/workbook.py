"""The tax bureau's records as an Excel workbook (.xlsx): the rows of its one sheet (or the sheet
named ``税务代收``) as text cells, read with openpyxl after the same checks as an Excel batch file
(docs/tax.md "Excel"; :mod:`receipts.batch.xlsx_file`): the zip's sizes before anything
inflates, no DOCTYPE, no hidden sheet, row or column, formulas only with their saved value, no
error cells. Numbers become their shortest exact decimal (never a float's expansion), a date cell
the ISO day it shows; every cell that cannot be read as text is reported at its row and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from receipts.batch.fields import BatchProblem

# The batch reader's check of the sheet XML (hidden rows and columns, formulas saved without a
# value, error cells) is the rule for every workbook the product reads: shared, not copied.
from receipts.batch.xlsx_file import ZIP_MAGIC, sheet_rows
from receipts.errors import InvalidInput

__all__ = ["TAX_SHEET", "ZIP_MAGIC", "workbook_rows"]

TAX_SHEET = "税务代收"
"""The sheet read from a workbook with several."""


def workbook_rows(
    data: bytes, name: str, problems: list[BatchProblem]
) -> Iterator[tuple[int, list[str]]]:
    """Each row of the chosen sheet as text cells with its Excel row number. A problem with the
    workbook as a whole raises :class:`InvalidInput`; a cell that cannot be read goes to
    ``problems`` at its row and column (and reads as empty)."""
    rows = _sheet(data, name)
    try:  # openpyxl parses the sheet while its rows are read
        for number, values in enumerate(rows, 1):
            cells: list[str] = []
            for column, value in enumerate(values, 1):
                try:
                    cells.append(_text(value))
                except ValueError as error:
                    problems.append(BatchProblem(name, number, column, str(error)))
                    cells.append("")
            yield number, cells
    except InvalidInput:
        raise
    except Exception as error:
        raise InvalidInput(f"{name}: not a readable .xlsx workbook: {error!r}") from None


def _sheet(data: bytes, name: str) -> Iterator[tuple[Any, ...]]:
    # The same hardened opening as every workbook the product reads (zip limits, no DTD, the
    # sheet visible and well-formed): only the sheet's name differs.
    return sheet_rows(data, name, TAX_SHEET, "import")


def _text(value: object) -> str:
    """A cell's value as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"a TRUE/FALSE cell ({value}): type the text instead")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # The shortest numeral that reads back as this float, then exact decimal arithmetic.
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, datetime | time | timedelta):
        raise ValueError(f"a time cell ({value}): type the day (2026-10-08) instead")
    raise ValueError(f"a cell of an unknown kind ({type(value).__name__})")
