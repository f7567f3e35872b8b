"""Bank statements for ``receipts reconcile bank``: reading the CSV a bank exports.

**Statement** (CSV, a header row naming the columns is required; names exactly as here, in any
order; UTF-8 with or without a BOM, or GB 18030 (a superset of GBK) as Chinese banking software
exports, found by trying UTF-8 first, as for every file the product reads):

=================  =========  =================================================================
``date``           required   value date: ``2026-10-08``, ``2026/10/08`` or ``20261008`` (a time
                              after it is ignored)
``amount``         required   credit in yuan, at most two decimals (``1,409.50`` is accepted);
                              zero or negative rows are debits and are skipped
``payer_name``     required   交款人 as the bank shows it (the cell may be empty when
                              ``payer_account`` is given)
``payer_account``  optional   the payer's USCC or other ID when the bank shows it (a bank account
                              number never matches a receipt, it is only echoed)
``reference``      optional   附言/用途: a receipt (``64710126-0000000012``, the 10-digit number)
                              or a batch client reference named here is a strong match
``serial``         optional   the bank's transaction serial (流水号), echoed in the report; given
                              again, the row is refused (the first one is used)
=================  =========  =================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from receipts.batch.fields import BatchProblem
from receipts.domain.money import parse_amount
from receipts.errors import InvalidInput
from receipts.support.csv_records import MalformedCsv, csv_records
from receipts.support.sizes import MAX_BANK_STATEMENT_BYTES, read_bounded
from receipts.support.text import UndecodableText, decode_text

__all__ = ["STATEMENT_COLUMNS", "Credit", "Statement", "UnusableStatement", "read_statement"]

STATEMENT_COLUMNS = ("date", "amount", "payer_name", "payer_account", "reference", "serial")
_REQUIRED = ("date", "amount", "payer_name")
_DATE = re.compile(r"(\d{4})(?:([-/])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T].*)?")


class UnusableStatement(InvalidInput):
    """The statement cannot be read at all (encoding, header, CSV syntax): exit 2."""


@dataclass(frozen=True)
class Credit:
    """One credit of the statement."""

    line: int
    """Its line in the file."""
    on: date
    """Value date."""
    amount: Decimal
    """Amount credited."""
    payer_name: str
    """Payer as the bank shows it."""
    payer_account: str
    """Payer's USCC, ID or account, when given."""
    reference: str
    """附言/用途."""
    serial: str
    """Bank serial, when given."""

    @property
    def label(self) -> str:
        """The serial, or the line."""
        return self.serial or f"line {self.line}"


@dataclass(frozen=True)
class Statement:
    """A statement's credits and the rows refused."""

    credits: tuple[Credit, ...]
    """Credits in file order."""
    problems: tuple[BatchProblem, ...]
    """Rows refused (the others are still used)."""
    debits: int
    """Rows skipped as debits (zero or negative amounts)."""


# --- the statement ------------------------------------------------------------------------


def read_statement(path: Path) -> Statement:
    """Read a statement; a refused row becomes a problem, a file that cannot be read at all
    raises :class:`UnusableStatement` naming where."""
    name = str(path)
    try:
        data = read_bounded(path, MAX_BANK_STATEMENT_BYTES, "a bank statement")
    except OSError as error:
        raise UnusableStatement(f"cannot read {name}: {error.strerror or error}") from None
    try:
        text = decode_text(data, name)
    except UndecodableText as error:
        raise UnusableStatement(str(error)) from None
    header: list[str] = []
    credits: list[Credit] = []
    problems: list[BatchProblem] = []
    serials: dict[str, int] = {}
    debits = rows = 0
    try:
        for line, row in csv_records(text):
            if not any(cell.strip() for cell in row):
                continue
            if not header:
                cells = [cell.strip() for cell in row]
                while not cells[-1]:
                    cells.pop()  # spreadsheets add empty columns at the end
                header = _check_header(cells, name, line)
                continue
            rows += 1
            credit = _credit(header, row, name, line, problems)
            if credit is not None and credit.serial:
                first = serials.setdefault(credit.serial, line)
                if first != line:
                    # A serial names one transaction: the row again (an export run twice, a
                    # copy-paste) would otherwise be a second credit, or make a match ambiguous.
                    column = header.index("serial") + 1
                    again = f"serial {credit.serial} again (first on line {first})"
                    problems.append(BatchProblem(name, line, column, again))
                    continue
            if credit is not None and credit.amount <= 0:
                debits += 1
            elif credit is not None:
                credits.append(credit)
    except MalformedCsv as error:
        raise UnusableStatement(f"{name}:{error.line}: {error}") from None
    if not header:
        raise UnusableStatement(f"{name}:1: no header row: the first row must name the columns")
    if not rows:
        raise UnusableStatement(f"{name}: the file has a header but no rows")
    return Statement(tuple(credits), tuple(problems), debits)


def _check_header(header: list[str], name: str, line: int) -> list[str]:
    for n, column in enumerate(header, 1):
        if column not in STATEMENT_COLUMNS:
            known = ", ".join(STATEMENT_COLUMNS)
            raise UnusableStatement(f"{name}:{line}:{n}: unknown column {column!r} ({known})")
        if column in header[: n - 1]:
            raise UnusableStatement(f"{name}:{line}:{n}: column {column} appears twice")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise UnusableStatement(f"{name}:{line}: missing column(s): {', '.join(missing)}")
    return header


def _credit(
    header: list[str], row: list[str], name: str, line: int, problems: list[BatchProblem]
) -> Credit | None:
    before = len(problems)

    def problem(column: str | None, message: str) -> None:
        at = header.index(column) + 1 if column in header else len(header) + 1
        problems.append(BatchProblem(name, line, at, message))

    if any(cell.strip() for cell in row[len(header) :]):
        problem(None, f"row has {len(row)} fields, the header {len(header)}")
    values = dict(zip(header, row, strict=False))
    cell = {c: values.get(c, "").strip() for c in STATEMENT_COLUMNS}
    on = _parse_date(cell["date"])
    if on is None:
        problem("date", f"date {cell['date']!r} is not YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD")
    amount: Decimal | None = None
    try:
        amount = parse_amount(cell["amount"], allow_negative=True)
    except InvalidInput as error:
        problem("amount", str(error) if cell["amount"] else "amount is required")
    if not cell["payer_name"] and not cell["payer_account"]:
        problem("payer_name", "payer_name is required (or payer_account)")
    if len(problems) > before or on is None or amount is None:
        return None
    rest = (cell[c] for c in ("payer_name", "payer_account", "reference", "serial"))
    return Credit(line, on, amount, *rest)


def _parse_date(text: str) -> date | None:
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year, _, month, day, compact_month, compact_day = match.groups()
    try:
        return date(int(year), int(month or compact_month), int(day or compact_day))
    except ValueError:
        return None
