"""The rows of a register file (payers, wage declarations) from CSV or Excel (.xlsx), as text
cells under a header, numbered as the user sees them: a CSV file's line, an Excel sheet's row
(the header on row 1 makes the first data row 2 either way). A workbook goes through the checks
of Excel batch files (:mod:`receipts.batch.xlsx_file`: zip limits, no DTD, hidden data and
formulas without a saved value refused, numbers as their shortest decimal, a date on the 1st of
the month in the ``period`` column as ``YYYY-MM``); a cell that cannot be read is a problem at
its row and column, and any problem refuses the file (docs/formats.md, "Payer register CSV").
Tables go out the other way through :func:`write_sheet`: CSV, or a workbook on a named sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipts.batch.fields import BatchProblem
from receipts.batch.xlsx_file import ZIP_MAGIC
from receipts.batch.xlsx_file import sheet_rows as xlsx_sheet_rows
from receipts.batch.xlsx_file import text_rows as xlsx_text_rows
from receipts.commands.spreadsheet import FORMULA_PREFIXES, spreadsheet_csv
from receipts.errors import InvalidInput
from receipts.support.csv_records import MalformedCsv, csv_records
from receipts.support.sizes import MAX_BATCH_FILE_BYTES, read_bounded
from receipts.support.text import decode_text

__all__ = ["SheetRows", "is_xlsx", "read_sheet_rows", "write_sheet"]


@dataclass(frozen=True)
class SheetRows:
    """A file's header and its non-empty rows, each with its number."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str | None]], ...]
    """(row number, column → cell text; an empty cell is None)."""
    problems: tuple[str, ...]
    """``FILE:ROW: …`` lines: a row with more cells than the header, a cell unreadable."""


def is_xlsx(path: Path) -> bool:
    """Whether ``path`` names an Excel workbook (by its suffix)."""
    return path.suffix.lower() == ".xlsx"


def _cell(value: str | None) -> str | None:
    """A cell's text; empty is None, and the ``'`` that a CSV export puts before a formula-like
    cell is taken off again, so an exported file imports as it was."""
    if value is None or value.strip() == "":
        return None
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def read_sheet_rows(
    path: Path, what: str, required: tuple[str, ...], known: tuple[str, ...], encoding: str | None
) -> SheetRows:
    """The rows of ``path`` (CSV, or .xlsx by its suffix or its bytes); a header that is not
    ``known`` columns once each, the ``required`` among them, is refused whole."""
    name = str(path)
    data = read_bounded(path, MAX_BATCH_FILE_BYTES, what)
    problems: list[str] = []
    numbered: list[tuple[int, list[str]]]
    cell_problems: list[BatchProblem] = []
    if is_xlsx(path) or data.startswith(ZIP_MAGIC):
        sheet = xlsx_sheet_rows(data, name)
        try:
            numbered = list(xlsx_text_rows(sheet, name, cell_problems))
        except Exception as error:  # openpyxl parses the sheet while its rows are read
            raise InvalidInput(f"{name}: not a readable .xlsx workbook: {error!r}") from None
    else:
        try:
            numbered = list(csv_records(decode_text(data, name, encoding)))
        except MalformedCsv as error:
            raise InvalidInput(f"{name}:{error.line}: {error}") from None
    numbered = [(n, cells) for n, cells in numbered if any(c.strip() for c in cells)]
    if not numbered:
        raise InvalidInput(f"{name}: the file is empty (a header row is needed)")
    first, header_cells = numbered[0]
    header = tuple(c.strip() for c in header_cells)
    while header and header[-1] == "":
        header = header[:-1]
    unknown = [c for c in header if c not in known]
    missing = [c for c in required if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InvalidInput(
            f"{name}:{first}: the header must name the columns {', '.join(known)} once each "
            f"({', '.join(required)} required); "
            + "; ".join(
                [f"unknown column {c!r}" for c in unknown]
                + [f"missing {c!r}" for c in missing]
                + (["a column named twice"] if len(set(header)) != len(header) else [])
            )
        )
    for p in cell_problems:
        column = header[p.column - 1] if p.column and p.column <= len(header) else p.column
        problems.append(f"{name}:{p.line}: column {column}: {p.message}")
    rows: list[tuple[int, dict[str, str | None]]] = []
    for number, cells in numbered[1:]:
        if any(c.strip() for c in cells[len(header) :]):
            problems.append(f"{name}:{number}: more cells than the header has columns")
            continue
        padded = [*cells, *[""] * (len(header) - len(cells))]
        rows.append((number, {c: _cell(v) for c, v in zip(header, padded, strict=False)}))
    return SheetRows(header, tuple(rows), tuple(problems))


def write_sheet(
    path: Path,
    columns: tuple[str, ...],
    numbers: tuple[str, ...],
    rows: list[list[Any]],
    *,
    sheet: str | None,
) -> None:
    """The table as an Excel workbook on ``sheet`` (a Chinese name), or as CSV when None."""
    if sheet is not None:
        from receipts.commands.spreadsheet_xlsx import spreadsheet_xlsx  # openpyxl: only here

        writer: Any = spreadsheet_xlsx(path, columns, numbers, sheet=sheet)
    else:
        writer = spreadsheet_csv(path, columns, numbers)
    with writer as out:
        for row in rows:
            out.row(row)
