"""``receipts payer wages import | set | show``, ``receipts payer arrears`` and ``receipts payer
collection-rate``: declared wage bills (计拨工资总额) per payer and 所属期, and the arrears
(欠缴) and collection rate (收缴率) they give against the receipts issued (docs/arrears.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.sheet_rows import read_sheet_rows
from receipts.commands.spreadsheet import spreadsheet_csv
from receipts.commands.tables import format_table
from receipts.domain.finance_rules import FinanceRules, format_percent
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.domain.money import parse_amount
from receipts.domain.payment_period import parse_payment_period
from receipts.errors import InvalidInput, ReceiptError
from receipts.issuing.effective_rules import effective_rules
from receipts.issuing.payer_wages import (
    WageDeclaration,
    declaration_problems,
    declare_wages,
    parse_declared_on,
    wage_history,
)
from receipts.stats.arrears import (
    ArrearsReport,
    GroupBy,
    arrears_report,
    collection_rate,
)
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["WAGE_COLUMNS", "arrears", "collection_rate_cmd", "wages"]

#: Who may declare wage bills (as who may change the register: docs/security.md).
_WRITERS = ("admin", "clerk")

WAGE_COLUMNS = ("uscc", "period", "wage", "declared_on", "source", "reason")
"""A wage file's columns (docs/arrears.md); ``reason`` only for a correction."""
_WAGE_REQUIRED = ("uscc", "period", "wage", "declared_on", "source")

ARREARS_COLUMNS = (
    "uscc",
    "name",
    "item",
    "period",
    "issuer",
    "tier",
    "status",
    "wage",
    "expected",
    "paid",
    "arrears",
    "rate_percent",
)
_ARREARS_NUMBERS = ("wage", "expected", "paid", "arrears", "rate_percent")
RATE_COLUMNS = (
    "key",
    "declared",
    "expected",
    "paid",
    "arrears",
    "overpaid",
    "rate_percent",
    "undeclared",
    "undeclared_paid",
)
_RATE_NUMBERS = RATE_COLUMNS[1:]


@click.group("wages")
def wages() -> None:
    """Declared wage bills (计拨工资总额) per payer and 所属期."""


def _writable(ctx: Context, action: str) -> Workspace:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, *_WRITERS, action=action)
    return ws


def _store(ctx: Context, ws: Workspace, declarations: list[WageDeclaration]) -> dict[str, int]:
    today = datetime.now(ws.config.zone).date()
    declared, corrected, same = declare_wages(
        ctx.database(ws), declarations, ctx.credentials(ws).signer_if_any(), today
    )
    return {"declared": declared, "corrected": corrected, "unchanged": same}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


@wages.command(
    "import",
    epilog="\b\nExample:\n  receipts payer wages import wages-2026Q4.xlsx\n"
    "  (columns: uscc, period, wage, declared_on, source; reason for a correction)",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default=None, help="CSV text encoding (default: UTF-8, else GB 18030).")
@with_context
def wages_import(ctx: Context, path: Path, encoding: str | None) -> None:
    """Record the file's declarations (CSV or .xlsx): all or nothing, every bad row named."""
    ws = _writable(ctx, "declaring wage bills")
    sheet = read_sheet_rows(path, "wage file", _WAGE_REQUIRED, WAGE_COLUMNS, encoding)
    problems = list(sheet.problems)
    found: list[tuple[int, WageDeclaration]] = []
    for line, row in sheet.rows:
        bad = _row_problems(row)
        problems += [f"{path}:{line}: column {c}: {why}" for c, why in bad]
        if not bad:
            found.append((line, WageDeclaration.of(**_fields(row))))
    if not found and not problems:
        problems.append(f"{path}: no declarations in the file")
    if not problems:
        today = datetime.now(ws.config.zone).date()
        with ctx.database(ws).read() as session:
            for n, column, why in declaration_problems(session, [d for _, d in found], today):
                problems.append(f"{path}:{found[n][0]}: column {column}: {why}")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise InvalidInput(f"{len(problems)} problem(s) in {path}; nothing was imported")
    counts = _store(ctx, ws, [d for _, d in found])
    ctx.emit(counts, lambda: _counts(counts))


def _fields(row: dict[str, str | None]) -> dict[str, Any]:
    return {c: row.get(c) for c in WAGE_COLUMNS}


_CHECKS: dict[str, Callable[[str], object]] = {
    "uscc": validate_uscc,
    "period": lambda value: parse_payment_period(value, what="period"),
    "wage": parse_amount,
    "declared_on": parse_declared_on,
    "source": lambda value: check_text(value, "source", maximum=100),
    "reason": lambda value: check_text(value, "reason", maximum=200),
}


def _row_problems(row: dict[str, str | None]) -> list[tuple[str, str]]:
    """Every bad cell of a row, as (column, why): each field checked on its own."""
    out: list[tuple[str, str]] = []
    for column, check in _CHECKS.items():
        value = row.get(column)
        if value is None:
            if column in _WAGE_REQUIRED:
                out.append((column, "required"))
            continue
        try:
            check(value)
        except ReceiptError as error:
            out.append((column, str(error)))
    return out


@wages.command(
    "set",
    epilog="\b\nExamples:\n  receipts payer wages set 91640100MA7600001J 2026-10 1250000.00 "
    "--source 企业申报\n  receipts payer wages set 91640100MA7600001J 2026-10 1300000.00 "
    '--source 企业申报 --reason "更正: 漏报奖金"',
)
@click.argument("uscc")
@click.argument("period")
@click.argument("amount")
@click.option("--source", required=True, help="Where the figure comes from (1-100 characters).")
@click.option(
    "--declared-on", default=None, metavar="YYYY-MM-DD", help="Declaration date (default: today)."
)
@click.option("--reason", default=None, help="Why, when it corrects a declared period.")
@with_context
def wages_set(
    ctx: Context,
    uscc: str,
    period: str,
    amount: str,
    source: str,
    declared_on: str | None,
    reason: str | None,
) -> None:
    """Declare a payer's wage bill for a 所属期, or correct it (with --reason)."""
    ws = _writable(ctx, "declaring wage bills")
    on = declared_on or datetime.now(ws.config.zone).date().isoformat()
    declaration = WageDeclaration.of(uscc, period, amount, on, source, reason)
    counts = _store(ctx, ws, [declaration])
    ctx.emit(counts, lambda: _counts(counts))


@wages.command("show", epilog="\b\nExample:\n  receipts payer wages show 91640100MA7600001J")
@click.argument("uscc")
@with_context
def wages_show(ctx: Context, uscc: str) -> None:
    """Every declaration of a payer, corrections and the ones they superseded included."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    history = wage_history(ctx.database(ws), uscc)
    data = [
        {
            "event": r.event_seq,
            "period": r.period,
            "wage": str(r.wage),
            "declared_on": r.declared_on.isoformat(),
            "source": r.source,
            "supersedes": r.supersedes,
            "reason": r.reason,
            "current": r.current,
        }
        for r in history
    ]
    headers = [
        "event",
        "period",
        "wage",
        "declared_on",
        "source",
        "supersedes",
        "reason",
        "current",
    ]

    def human() -> str:
        if not data:
            return f"no wage bill declared for {uscc}"
        rows = [["" if d[h] is None else d[h] for h in headers] for d in data]
        for row in rows:
            row[-1] = "yes" if row[-1] else "superseded"
        return format_table(headers, rows)

    ctx.emit(data, human)


def _rules(ctx: Context, ws: Workspace) -> FinanceRules:
    """The union-finance rules in force here: the rate of each item is configured there."""
    return effective_rules(ctx.database(ws), ws.config, ctx.credentials(ws).validator)


def _report(ctx: Context, item: str, period: str | None, issuer: str | None) -> ArrearsReport:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    return arrears_report(
        ctx.database(ws), _rules(ctx, ws), item=item, period=period, issuer=issuer
    )


def _write(
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


def _report_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--item", default="01", show_default=True, help="Catalogue item."),
            click.option("--period", default=None, help="所属期: rows within it (2026, 2026Q4…)."),
            click.option("--issuer", default=None, help="Only rows attributed to this org code."),
            click.option(
                "--xlsx",
                "xlsx_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write an Excel workbook.",
            ),
            click.option(
                "--csv",
                "csv_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write CSV (UTF-8 with BOM).",
            ),
        ]
    ):
        func = option(func)
    return func


def _arrears_cells(report: ArrearsReport) -> list[list[Any]]:
    return [
        [
            r.uscc,
            r.name,
            r.item,
            r.period,
            r.issuer,
            r.tier,
            r.status,
            r.wage,
            r.expected,
            r.paid,
            r.arrears,
            r.rate,
        ]
        for r in report.rows
    ]


@click.command(
    "arrears",
    epilog="\b\nExamples:\n  receipts payer arrears --period 2026\n"
    "  receipts payer arrears --period 2026Q4 --issuer 640100 --xlsx 欠缴-2026Q4.xlsx",
)
@_report_options
@with_context
def arrears(
    ctx: Context,
    item: str,
    period: str | None,
    issuer: str | None,
    xlsx_file: Path | None,
    csv_file: Path | None,
) -> None:
    """Expected (declared wage bill × the item's rate) against paid, per payer and 所属期;
    payers without a declaration are listed as undeclared."""
    report = _report(ctx, item, period, issuer)
    cells = _arrears_cells(report)
    if xlsx_file is not None:
        _write(xlsx_file, ARREARS_COLUMNS, _ARREARS_NUMBERS, cells, sheet="欠缴明细")
    if csv_file is not None:
        _write(csv_file, ARREARS_COLUMNS, _ARREARS_NUMBERS, cells, sheet=None)
    data = [dict(zip(ARREARS_COLUMNS, row, strict=True)) for row in cells]

    def human() -> str:
        head = f"item {report.item} at {format_percent(report.rate)} of the declared wage bill"
        if not cells:
            return head + "\nno payers"
        return head + "\n" + format_table(ARREARS_COLUMNS, cells)

    ctx.emit(data, human)


@click.command(
    "collection-rate",
    epilog="\b\nExamples:\n  receipts payer collection-rate --by tier --period 2026\n"
    "  receipts payer collection-rate --by period --xlsx 收缴率.xlsx",
)
@click.option(
    "--by",
    type=click.Choice([g.value for g in GroupBy]),
    default=GroupBy.ISSUER.value,
    show_default=True,
    help="Group by issuer, tier or 所属期.",
)
@_report_options
@with_context
def collection_rate_cmd(
    ctx: Context,
    by: str,
    item: str,
    period: str | None,
    issuer: str | None,
    xlsx_file: Path | None,
    csv_file: Path | None,
) -> None:
    """收缴率 = paid ÷ expected, in percent to two decimals, by issuer, tier or 所属期."""
    report = _report(ctx, item, period, issuer)
    groups = collection_rate(report, GroupBy(by))
    cells = [
        [
            g.key,
            g.declared,
            g.expected,
            g.paid,
            g.arrears,
            g.overpaid,
            g.rate,
            g.undeclared,
            g.undeclared_paid,
        ]
        for g in groups
    ]
    if xlsx_file is not None:
        _write(xlsx_file, RATE_COLUMNS, _RATE_NUMBERS, cells, sheet="收缴率")
    if csv_file is not None:
        _write(csv_file, RATE_COLUMNS, _RATE_NUMBERS, cells, sheet=None)
    data = [dict(zip(RATE_COLUMNS, row, strict=True)) for row in cells]
    ctx.emit(data, lambda: format_table([by, *RATE_COLUMNS[1:]], cells))
