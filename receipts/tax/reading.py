"""Reading a file of the tax bureau's collection records (docs/tax.md "The file"): CSV in UTF-8
(with or without a BOM), GBK or GB 18030, or an .xlsx workbook; the header names the columns (in
Chinese or English, :data:`receipts.tax.layout.COLUMNS`), then one record a row.

Every problem is returned, each at its row and column (``FILE:ROW:COLUMN: column: message``):
a bad header, a bad cell, a voucher twice in the file. Whoever imports refuses a file with any
problem whole (:mod:`receipts.tax.importing`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from receipts.batch.fields import BatchProblem
from receipts.domain.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.support.csv_records import MalformedCsv, csv_records
from receipts.support.sizes import MAX_BATCH_FILE_BYTES, read_bounded
from receipts.support.text import UndecodableText, decode_text
from receipts.tax.layout import REQUIRED, TaxRecord, column_of, record_from
from receipts.tax.workbook import ZIP_MAGIC, workbook_rows

__all__ = ["read_tax_file"]


def read_tax_file(
    path: Path, catalogue: Catalogue, *, encoding: str | None = None
) -> tuple[list[TaxRecord], list[BatchProblem], bytes]:
    """The records of the file at ``path``, every problem found (in row order), and the file's
    bytes (whose digest the import records). Only an unreadable file or an unknown ``encoding``
    raises :class:`InvalidInput`."""
    name = str(path)
    try:
        data = read_bounded(path, MAX_BATCH_FILE_BYTES, "a tax collection file")
    except OSError as error:
        raise InvalidInput(f"cannot read {name}: {error.strerror or error}") from None
    problems: list[BatchProblem] = []
    if path.suffix.lower() == ".xlsx" or data.startswith(ZIP_MAGIC):
        try:
            records = _records(workbook_rows(data, name, problems), name, catalogue, problems)
        except InvalidInput as error:
            message = str(error).removeprefix(f"{name}: ")
            return [], [BatchProblem(name, 1, None, message)], data
    else:
        try:
            text = decode_text(data, name, encoding)
        except UndecodableText as error:
            return [], [BatchProblem(name, error.line, error.column, error.reason)], data
        records = _csv(text, name, catalogue, problems)
    problems.sort(key=lambda p: (p.line, p.column or 0))
    return records, problems, data


def _csv(
    text: str, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[TaxRecord]:
    try:
        return _records(csv_records(text), name, catalogue, problems)
    except MalformedCsv as error:  # reported where the record it could not read begins
        problems[:] = [BatchProblem(name, error.line, None, str(error))]
        return []


def _records(
    rows: Iterable[tuple[int, list[str]]],
    name: str,
    catalogue: Catalogue,
    problems: list[BatchProblem],
) -> list[TaxRecord]:
    positions: dict[str, int] = {}
    records: list[TaxRecord] = []
    vouchers: dict[str, int] = {}
    width = 0
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        filled = [cell for cell in row if cell.strip()]
        if not positions and len(filled) == 1 and column_of(filled[0]) is None:
            continue  # a title above the header (缴费明细查询结果), as tax exports have
        if not positions:
            width = max(n for n, cell in enumerate(row, 1) if cell.strip())
            positions = _header(row[:width], name, line, problems)
            if not positions:
                return []
            continue
        if any(cell.strip() for cell in row[width:]):
            extra = next(n for n, cell in enumerate(row, 1) if n > width and cell.strip())
            problems.append(BatchProblem(name, line, extra, "a cell beyond the last column"))
        cells = {column: row[n - 1] if n <= len(row) else "" for column, n in positions.items()}
        record = record_from(cells, positions, (name, line), catalogue, problems)
        if record is None:
            continue
        if record.voucher in vouchers:
            first = vouchers[record.voucher]
            message = f"voucher: {record.voucher} appears twice in the file (row {first} too)"
            problems.append(BatchProblem(name, line, positions["voucher"], message))
            continue
        vouchers[record.voucher] = line
        records.append(record)
    if not positions:
        problems.append(BatchProblem(name, 1, None, "file is empty"))
    elif not records and not problems:
        problems.append(BatchProblem(name, 1, None, "the file has a header but no records"))
    return records


def _header(row: list[str], name: str, line: int, problems: list[BatchProblem]) -> dict[str, int]:
    """Canonical column → its number; empty (with the problems reported) when unusable."""
    positions: dict[str, int] = {}
    before = len(problems)
    for n, cell in enumerate(row, 1):
        column = column_of(cell)
        if column is None:
            message = f"unknown column {cell.strip()!r} (docs/tax.md lists the accepted names)"
            problems.append(BatchProblem(name, line, n, message))
        elif column in positions:
            message = f"column {cell.strip()!r} is {column} again (column {positions[column]})"
            problems.append(BatchProblem(name, line, n, message))
        else:
            positions[column] = n
    missing = [c for c in REQUIRED if c not in positions]
    has_range = "period_from" in positions and "period_to" in positions
    if "period" not in positions and not has_range:
        missing.append("period (or period_from and period_to)")
    elif "period" in positions and ("period_from" in positions or "period_to" in positions):
        both = "give period, or period_from and period_to, not both"
        problems.append(BatchProblem(name, line, None, both))
    if missing:
        problems.append(BatchProblem(name, line, None, f"missing column(s): {', '.join(missing)}"))
    return {} if len(problems) > before else positions
