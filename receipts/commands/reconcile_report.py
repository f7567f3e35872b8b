"""What the ``receipts reconcile`` reports share: every report prints a table, or JSON with
``--json``, and writes every line to ``--csv FILE`` (UTF-8 with a BOM, so spreadsheets read the
Chinese right); the exit code is 1 when anything differs, 0 when everything agrees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context
from receipts.commands.spreadsheet import spreadsheet_csv
from receipts.commands.spreadsheet_xlsx import spreadsheet_xlsx
from receipts.commands.tables import format_table

__all__ = ["NUMBER_COLUMNS", "csv_option", "finish", "json_option", "table"]

json_option = click.option("--json", "as_json", is_flag=True, help="Same as receipts --json.")
"""``--json`` after the command name, as well as before it."""
_XLSX_KEY = "receipts.reconcile.xlsx"


def _remember_xlsx(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    ctx.meta[_XLSX_KEY] = value


def csv_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--csv FILE`` and ``--xlsx FILE``: every line of the report, also those the table leaves
    out, as CSV or as an Excel workbook (sheet 对账). ``--xlsx`` reaches :func:`finish` through
    the click context, so the commands' parameters are only ``csv_path``."""
    command = click.option(
        "--xlsx",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember_xlsx,
        help="Also write every line of the report to this Excel workbook (sheet 对账).",
    )(command)
    return click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write every line of the report to this CSV file.",
    )(command)


_SHOWN = 200

NUMBER_COLUMNS = frozenset(
    {"amount", "issued", "reversed", "red", "unused", "gaps", "block", "number"}
    | {"file_total", "here_total"}
)
"""The columns of the reconcile reports that hold counts or amounts: written as numbers in the CSV
file (a negative amount stays ``-12.50``); every other column is text, neutralised against formula
injection (:mod:`receipts.commands.spreadsheet`)."""


def finish(
    ctx: Context,
    data: Any,
    human: Callable[[], str],
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    csv_path: Path | None,
    failed: bool,
) -> None:
    """Write the CSV file and the workbook (if asked), print the report, and exit 1 if anything
    ``failed``."""
    numeric = NUMBER_COLUMNS.intersection(columns)
    if csv_path is not None:
        with spreadsheet_csv(csv_path, columns, numeric) as sheet:
            for row in rows:
                sheet.record(row)
    xlsx_path = click.get_current_context().meta.get(_XLSX_KEY)
    if xlsx_path is not None:
        with spreadsheet_xlsx(xlsx_path, columns, numeric, sheet="对账") as book:
            for row in rows:
                book.record(row)
    ctx.emit(data, human)
    if failed:
        fail_with_findings()


def table(rows: Sequence[dict[str, Any]], headers: list[str]) -> str:
    """The first lines as a table; the rest only counted (all are in --csv and --json)."""
    text = format_table(headers, [[_short(row.get(h)) for h in headers] for row in rows[:_SHOWN]])
    if len(rows) > _SHOWN:
        text += f"\n… and {len(rows) - _SHOWN:,} more lines (all of them with --csv FILE or --json)"
    return text


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "…"
