"""The payer register's CSV file or Excel workbook (docs/formats.md, "Payer register CSV"): read
for ``receipts payer import`` (every bad row reported with its row and column, nothing imported
from a bad file) and written by ``receipts payer export`` as CSV or, for a ``.xlsx`` file, as a
workbook (both through :func:`receipts.commands.sheet_rows.write_sheet`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from receipts.commands.sheet_rows import is_xlsx, read_sheet_rows, write_sheet
from receipts.domain.enums import PayerKind
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.errors import ReceiptError
from receipts.issuing.payer_register import (
    PayerEntry,
    entry_conflict,
    registered_rows,
    validate_email,
    validate_union_uscc,
)
from receipts.ledger.database import Database

__all__ = ["COLUMNS", "PAYER_SHEET", "read_payers", "register_conflicts", "write_payers"]

COLUMNS = ("uscc", "name", "kind", "union_uscc", "email")
"""The columns, in this order in an exported file (an imported one may order them freely)."""

_REQUIRED = ("uscc", "name", "kind")

PAYER_SHEET = "交款人"
"""The sheet of an exported workbook (a workbook with one sheet is read whatever its name)."""

_CHECKS: dict[str, Callable[[str], object]] = {
    "uscc": validate_uscc,
    "name": lambda value: check_text(value, "payer name", maximum=100),
    "kind": PayerKind,
    "union_uscc": validate_union_uscc,
    "email": validate_email,
}


def read_payers(
    path: Path, encoding: str | None = None
) -> tuple[list[tuple[int, PayerEntry]], list[str]]:
    """The file's payers (CSV, or Excel .xlsx) with their rows, and every problem
    (``FILE:ROW: column C: why``); any problem means the file is refused whole."""
    name = str(path)
    sheet = read_sheet_rows(path, "payer file", _REQUIRED, COLUMNS, encoding)
    entries: list[tuple[int, PayerEntry]] = []
    problems = list(sheet.problems)
    seen: dict[str, int] = {}
    for line, row in sheet.rows:
        values = {c: row.get(c) for c in COLUMNS}
        bad = _row_problems(values)
        problems += [f"{name}:{line}: column {c}: {why}" for c, why in bad]
        if bad:
            continue
        entry = PayerEntry.of(**values)  # type: ignore[arg-type]
        if entry.uscc in seen:
            problems.append(
                f"{name}:{line}: column uscc: {entry.uscc} appears again (first on row "
                f"{seen[entry.uscc]})"
            )
            continue
        seen[entry.uscc] = line
        entries.append((line, entry))
    if not entries and not problems:
        problems.append(f"{name}: no payers in the file")
    return entries, problems


def _row_problems(values: dict[str, str | None]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for column, check in _CHECKS.items():
        value = values[column]
        if value is None:
            if column in _REQUIRED:
                out.append((column, "required"))
            continue
        try:
            check(value)
        except ReceiptError as error:
            out.append((column, str(error)))
        except ValueError:
            out.append((column, f"not one of {', '.join(k.value for k in PayerKind)}"))
    return out


def register_conflicts(
    db: Database, entries: list[tuple[int, PayerEntry]], path: Path
) -> list[str]:
    """Rows that contradict the register (a new name or kind for a registered USCC)."""
    with db.read() as session:
        rows = registered_rows(session, {e.uscc for _, e in entries})
    out = []
    for line, entry in entries:
        row = rows.get(entry.uscc)
        why = None if row is None else entry_conflict(row, entry)
        if why is not None:
            column = "name" if row is not None and row.name != entry.name else "kind"
            out.append(f"{path}:{line}: column {column}: {why}")
    return out


def write_payers(path: Path, entries: list[PayerEntry]) -> None:
    """The register as CSV (formula-like cells neutralised), or as an Excel workbook (sheet
    交款人, every cell text) when ``path`` ends in ``.xlsx``."""
    rows = [[e.uscc, e.name, e.kind.value, e.union_uscc, e.email] for e in entries]
    write_sheet(path, COLUMNS, (), rows, sheet=PAYER_SHEET if is_xlsx(path) else None)
