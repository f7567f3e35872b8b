"""The payer register's CSV file (docs/formats.md, "Payer register CSV"): read for
``receipts payer import`` (every bad row reported with its row and column, nothing imported from
a bad file) and written by ``receipts payer export`` through :func:`spreadsheet_csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from receipts.commands.spreadsheet import FORMULA_PREFIXES, spreadsheet_csv
from receipts.domain.enums import PayerKind
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.errors import InvalidInput, ReceiptError
from receipts.issuing.payer_register import (
    PayerEntry,
    entry_conflict,
    registered_rows,
    validate_email,
    validate_union_uscc,
)
from receipts.ledger.database import Database
from receipts.support.sizes import MAX_BATCH_FILE_BYTES, read_bounded
from receipts.support.text import decode_text

__all__ = ["COLUMNS", "read_payers", "register_conflicts", "write_payers"]

COLUMNS = ("uscc", "name", "kind", "union_uscc", "email")
"""The columns, in this order in an exported file (an imported one may order them freely)."""

_REQUIRED = ("uscc", "name", "kind")

_CHECKS: dict[str, Callable[[str], object]] = {
    "uscc": validate_uscc,
    "name": lambda value: check_text(value, "payer name", maximum=100),
    "kind": PayerKind,
    "union_uscc": validate_union_uscc,
    "email": validate_email,
}


def _cell(value: str | None) -> str | None:
    """A cell's text; empty is None, and the ``'`` that :func:`spreadsheet_csv` puts before a
    formula-like cell is taken off again, so an exported file imports as it was."""
    if value is None or value == "":
        return None
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def read_payers(
    path: Path, encoding: str | None = None
) -> tuple[list[tuple[int, PayerEntry]], list[str]]:
    """The file's payers with their rows, and every problem (``FILE:ROW: column C: why``); any
    problem means the file is refused whole."""
    name = str(path)
    text = decode_text(read_bounded(path, MAX_BATCH_FILE_BYTES, "payer file"), name, encoding)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in _REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InvalidInput(
            f"{name}:1: the header must name the columns {', '.join(COLUMNS)} once each "
            f"({', '.join(_REQUIRED)} required); "
            + "; ".join(
                [f"unknown column {c!r}" for c in unknown] + [f"missing {c!r}" for c in missing]
            )
        )
    entries: list[tuple[int, PayerEntry]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"{name}:{line}: more cells than the header has columns")
            continue
        values = {c: _cell(row.get(c)) for c in COLUMNS}
        if all(v is None for v in values.values()):
            continue
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
    """The register as CSV (formula-like cells neutralised)."""
    with spreadsheet_csv(path, COLUMNS) as sheet:
        for e in entries:
            sheet.row([e.uscc, e.name, e.kind.value, e.union_uscc, e.email])
