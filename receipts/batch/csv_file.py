"""CSV batch files: the header, then one row per item, rows sharing a ``client_ref`` gathered
into one receipt (the format is described in :mod:`receipts.batch.reader`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from receipts.batch.fields import (
    BatchEntry,
    BatchProblem,
    Where,
    item_from,
    payer_from,
    request_from,
    require,
)
from receipts.domain.catalogue import Catalogue
from receipts.domain.model import MAX_ITEMS, Item, Payer
from receipts.support.csv_records import MalformedCsv, csv_records

__all__ = ["ACCEPTED_COLUMNS", "COLUMNS", "REQUIRED_COLUMNS", "read_csv", "read_rows"]

#: Every CSV column, in the documented order.
COLUMNS = (
    "client_ref",
    "payer_name",
    "payer_kind",
    "payer_uscc",
    "payer_id",
    "item_code",
    "item_name",
    "period",
    "amount",
    "basis",
    "rate",
    "handler",
    "reviewer",
    "remark",
)
#: Every column a header may name: the above and, added later, the optional payer situation
#: (分成, docs/formats.md "Batch files"), kept apart so files and tools written against
#: ``COLUMNS`` stay as they were.
ACCEPTED_COLUMNS = (*COLUMNS, "situation")
#: Columns a CSV header must name (and ``amount``, unless it names ``basis`` and ``rate``).
REQUIRED_COLUMNS = (
    "client_ref",
    "payer_name",
    "payer_kind",
    "item_code",
    "period",
    "handler",
    "reviewer",
)
# What every row of one receipt must repeat identically.
_RECEIPT_FIELDS = (
    "payer_name",
    "payer_kind",
    "payer_uscc",
    "payer_id",
    "handler",
    "reviewer",
    "remark",
    "situation",
)
_NO_HEADER = "no header row: the first row must name the columns"


@dataclass(slots=True)
class _Gathering:
    """A CSV receipt being gathered from its rows: its first row, whose receipt fields the other
    rows must repeat, and its payer."""

    where: Where
    fields: dict[str, str]
    payer: Payer | None
    items: list[Item] = field(default_factory=list)
    item_lines: list[int] = field(default_factory=list)
    rows: int = 0
    bad: bool = False


def read_csv(
    text: str, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[BatchEntry]:
    """The receipts of a decoded CSV batch file ``name``; its problems go to ``problems``."""
    try:
        return read_rows(csv_records(text), name, catalogue, problems)
    except MalformedCsv as error:  # reported where the record it could not read begins
        problems[:] = [BatchProblem(name, error.line, None, str(error))]
        return []


def read_rows(
    rows: Iterable[tuple[int, list[str]]],
    name: str,
    catalogue: Catalogue,
    problems: list[BatchProblem],
) -> list[BatchEntry]:
    """The receipts of a batch's rows, each with the line (or spreadsheet row) it starts on, as
    text cells: a CSV file's records, or an .xlsx sheet's rows (:mod:`receipts.batch.xlsx_file`)."""
    header: list[str] = []
    columns: dict[str, int] = {}
    receipts: dict[str, _Gathering] = {}
    last = 0
    for line, row in rows:
        last = line
        if not any(cell.strip() for cell in row):
            continue
        if not header:
            header = row[: max(n for n, cell in enumerate(row, 1) if cell)]  # no empty tail
            if problem := _check_header(header, name, line):
                problems.append(problem)
                return []
            columns = {column: n for n, column in enumerate(header, 1)}
            continue
        where, before = Where(name, line, problems, columns), len(problems)
        if any(row[len(header) :]):
            where.report(
                None, f"row has {len(row)} fields, the header {len(header)}", len(header) + 1
            )
        values = dict(zip(header, row, strict=False))
        _csv_row(
            {c: values.get(c, "") for c in ACCEPTED_COLUMNS}, where, receipts, catalogue, before
        )
    if not header:
        problems.append(BatchProblem(name, 1, None, _NO_HEADER))
    elif not receipts and not problems:
        problems.append(BatchProblem(name, last, None, "file has a header but no rows"))
    built = (
        (g, request_from(g.where, ref, g.payer, g.items, g.fields))
        for ref, g in receipts.items()
        if not g.bad and g.payer is not None
    )
    return [
        BatchEntry(g.where.line, request, tuple(g.item_lines))
        for g, request in built
        if request is not None
    ]


def _check_header(header: list[str], name: str, line: int) -> BatchProblem | None:
    if not set(ACCEPTED_COLUMNS).intersection(header):
        return BatchProblem(name, line, None, _NO_HEADER)
    seen: set[str] = set()
    for n, column in enumerate(header, 1):
        if column in seen:
            return BatchProblem(name, line, n, f"column {column} appears twice")
        seen.add(column)
    unknown = [column for column in header if column not in ACCEPTED_COLUMNS]
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if "amount" not in seen and not {"basis", "rate"} <= seen:
        missing.append("amount (or basis and rate)")
    parts = [
        f"{what} column{'s' if len(names) > 1 else ''}: {', '.join(names)}"
        for what, names in (("unknown", [repr(u) for u in unknown]), ("missing", missing))
        if names
    ]
    if not parts:
        return None
    return BatchProblem(
        name, line, header.index(unknown[0]) + 1 if unknown else None, "; ".join(parts)
    )


def _csv_row(
    values: dict[str, str],
    where: Where,
    receipts: dict[str, _Gathering],
    catalogue: Catalogue,
    before: int,
) -> None:
    """Add one row to its receipt (rows of a reference need not be adjacent); a row with
    problems since ``before`` spoils its receipt."""
    ref = require(values, "client_ref", where)
    if ref is None:
        return
    gathering = receipts.get(ref)
    if gathering is None:
        fields = {f: values[f] for f in _RECEIPT_FIELDS}
        gathering = receipts[ref] = _Gathering(where, fields, payer_from(values, where))
    else:
        for f, first in gathering.fields.items():
            if values[f] != first:
                where.report(
                    f,
                    f"rows of reference {ref} disagree on {f}: {first!r} (line "
                    f"{gathering.where.line}) ≠ {values[f]!r} (line {where.line})",
                )
    gathering.rows += 1
    if gathering.rows == MAX_ITEMS + 1:
        where.report(
            None,
            f"reference {ref} has more than {MAX_ITEMS} rows (a receipt has 1-{MAX_ITEMS} items)",
        )
    elif gathering.rows <= MAX_ITEMS:
        item = item_from(values, catalogue, where)
        if item is not None:
            gathering.items.append(item)
            gathering.item_lines.append(where.line)
    gathering.bad = gathering.bad or len(where.problems) > before
