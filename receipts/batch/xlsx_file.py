"""Excel batch files (.xlsx): the CSV layout on a worksheet, read with openpyxl, giving exactly the
rows a CSV file gives (same header names, same rules), numbered as Excel shows them (the header
on row 1 makes the first data row 2, as a CSV file's line 2). The layout is described in
docs/formats.md ("Excel batch files").

Before openpyxl sees the file it is checked as the zip it is (:mod:`receipts.support.safezip`:
declared and real sizes, ratios, member names), so a compression bomb is refused before anything
inflates beyond the limits. Then:

- **which sheet**: the only sheet, or else the sheet named ``收据``; a workbook with several sheets
  and none named ``收据`` is refused (a batch on the wrong sheet must not pass unnoticed);
- **hidden data**: a hidden (or very hidden) chosen sheet, or a hidden row or column on it, is
  refused: what the reviewer cannot see must not be issued;
- **formulas**: read as the value Excel saved with them (``data_only``), never computed here; a
  formula saved without a value (a file written by a program that does not calculate) and an
  error value such as ``#DIV/0!`` are refused at their cell;
- **numbers**: a number cell becomes the shortest decimal that reads back as the same binary value
  (``2000.1`` → ``"2000.1"``, never ``Decimal(2000.1)``), then goes through the CSV rules, which
  allow at most two decimals of yuan: a value Excel computed as ``0.30000000000000004`` is refused;
- **dates**: a date cell in the ``period`` column on the 1st of a month, as Excel makes of
  ``2026-10``, becomes ``2026-10``; any other date or time cell is refused at its cell;
- **XML**: a member with a DOCTYPE (the door to entity expansion, "billion laughs") is refused;
- **text** is taken as it is (a ``'`` typed in front to keep Excel from converting is not part of
  the value); TRUE/FALSE cells are refused.

A problem with a cell refuses the file with every such cell named (``FILE:ROW:COLUMN``); the
rows are checked only once the cells read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from receipts.batch.csv_file import read_rows
from receipts.batch.fields import BatchEntry, BatchProblem
from receipts.domain.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.support.safezip import ZipLimits, read_zip

__all__ = ["XLSX_LIMITS", "XLSX_SHEET", "read_xlsx", "sheet_rows", "text_rows"]

XLSX_SHEET = "收据"
"""The sheet read from a workbook with several."""

_MIB = 1024 * 1024
XLSX_LIMITS = ZipLimits(
    max_members=1_000,
    max_member_bytes=256 * _MIB,
    max_total_bytes=320 * _MIB,
    max_ratio=100,
    max_ratio_total=100,
)
"""What an .xlsx may inflate to: a 64 MiB batch file (receipts.support.sizes) of ~200,000 rows is a
sheet of ~100 MB of XML; worksheet XML compresses 10-30 times, a compression bomb hundreds."""

ZIP_MAGIC = b"PK\x03\x04"


class _CellProblems(Exception):
    pass


def read_xlsx(
    data: bytes, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[BatchEntry]:
    """The receipts of the .xlsx batch file ``name`` whose bytes are ``data``; its problems go to
    ``problems`` (a problem with the file as a whole comes alone, at row 1)."""
    try:
        rows = sheet_rows(data, name)
    except InvalidInput as error:
        message = str(error).removeprefix(f"{name}: ")
        problems.append(BatchProblem(name, 1, None, message))
        return []
    cell_problems: list[BatchProblem] = []
    try:  # openpyxl parses the sheet while its rows are read
        typed = list(text_rows(rows, name, cell_problems))
    except Exception as error:
        problems.append(BatchProblem(name, 1, None, f"not a readable .xlsx workbook: {error!r}"))
        return []
    if cell_problems:
        problems.extend(cell_problems)
        return []
    return read_rows(typed, name, catalogue, problems)


def sheet_rows(
    data: bytes, name: str, sheet_name: str = XLSX_SHEET, verb: str = "issue"
) -> Iterator[tuple[Any, ...]]:
    """The chosen sheet's rows of values, row 1 first (empty rows included), after the checks on
    the zip, the sheet and its cells (those that fail raise InvalidInput). The sheet is the only
    one, or the one named ``sheet_name`` (``verb`` says what is done with it: "issue", "import").
    Every workbook the product reads comes through here: batch files, the payer register, wage
    bills and the tax bureau's records."""
    if not data.startswith(ZIP_MAGIC):
        raise InvalidInput(
            f"{name}: not an .xlsx workbook (an .xlsx file is a zip; save it from Excel)"
        )
    members = read_zip(data, f"{name} (an .xlsx workbook)", XLSX_LIMITS)
    for member, content in members.items():
        if b"<!DOCTYPE" in content:  # "<" is escaped in XML text: this is markup
            raise InvalidInput(f"{name}: {member} has a DOCTYPE (DTDs and entities are refused)")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError, etree.LxmlError) as error:
        raise InvalidInput(f"{name}: not a readable .xlsx workbook: {error}") from None
    except Exception as error:  # openpyxl's parsers raise many kinds on a damaged file
        raise InvalidInput(f"{name}: not a readable .xlsx workbook: {error!r}") from None
    names = book.sheetnames
    if not names:
        raise InvalidInput(f"{name}: the workbook has no sheet")
    if len(names) > 1 and sheet_name not in names:
        raise InvalidInput(
            f"{name}: the workbook has {len(names)} sheets ({', '.join(names)}); name the one "
            f"to {verb} {sheet_name}"
        )
    sheet = book[sheet_name if sheet_name in names else names[0]]
    if sheet.sheet_state != "visible":
        raise InvalidInput(f"{name}: sheet {sheet.title} is hidden; show it or remove it")
    path = str(getattr(sheet, "_worksheet_path", "")).lstrip("/")
    if path not in members:
        raise InvalidInput(f"{name}: not a readable .xlsx workbook (no sheet {path!r})")
    try:
        _check_sheet_xml(members[path], name)
    except etree.XMLSyntaxError as error:
        raise InvalidInput(f"{name}: not a readable .xlsx workbook: {path}: {error}") from None
    sheet.reset_dimensions()  # a wrong <dimension> must not cut rows off
    return sheet.iter_rows(values_only=True)


def _check_sheet_xml(xml: bytes, name: str) -> None:
    """Refuse hidden rows and columns, formulas saved without a value and error values."""
    bad: list[str] = []
    for _, element in etree.iterparse(
        io.BytesIO(xml),
        events=("end",),
        tag=("{*}row", "{*}col", "{*}c"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    ):
        local = etree.QName(element).localname
        hidden = element.get("hidden") in ("1", "true")
        if local == "row" and hidden:
            bad.append(f"row {element.get('r')} is hidden")
        elif local == "col" and hidden:
            bad.append(f"columns {element.get('min')}-{element.get('max')} are hidden")
        elif local == "c":
            ref = element.get("r", "?")
            values = [
                child
                for child in element
                if etree.QName(child).localname in ("v", "is") and (child.text or len(child))
            ]
            has_formula = any(etree.QName(child).localname == "f" for child in element)
            if has_formula and not values:
                bad.append(f"cell {ref} is a formula saved without its value")
            elif element.get("t") == "e":
                bad.append(f"cell {ref} is an error value")
        if local == "row":
            element.clear()
        if len(bad) >= 20:
            break
    if bad:
        raise InvalidInput(
            f"{name}: {'; '.join(bad)} (hidden data and formulas without a saved value are "
            "refused: open the file in Excel, show everything, save it)"
        )


def text_rows(
    rows: Iterator[tuple[Any, ...]], name: str, problems: list[BatchProblem]
) -> Iterator[tuple[int, list[str]]]:
    """Each row as text cells with its Excel row number; a cell that cannot be read as text is
    reported at its row and column."""
    period: int | None = None
    header_seen = False
    for number, values in enumerate(rows, 1):
        cells: list[str] = []
        for column, value in enumerate(values, 1):
            try:
                cells.append(_cell_text(value, is_period=column == period))
            except _CellProblems as error:
                problems.append(BatchProblem(name, number, column, str(error)))
                cells.append("")
        if not header_seen and any(cell.strip() for cell in cells):
            header_seen = True
            period = cells.index("period") + 1 if "period" in cells else None
        yield number, cells


def _cell_text(value: object, *, is_period: bool) -> str:
    """One cell's value as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise _CellProblems(f"a TRUE/FALSE cell ({value}): type the text instead")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # The shortest numeral that reads back as this float, then exact decimal arithmetic.
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime | date):
        moment = (
            value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        )
        if is_period and moment.day == 1 and moment.time() == time(0):
            return f"{moment.year:04d}-{moment.month:02d}"
        where = "a date" if is_period else "a date outside the period column"
        raise _CellProblems(f"{where} ({value}): type the month as text, e.g. 2026-10")
    if isinstance(value, time | timedelta):
        raise _CellProblems(f"a time cell ({value}): type the text instead")
    raise _CellProblems(f"a cell of an unknown kind ({type(value).__name__})")
