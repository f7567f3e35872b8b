"""``receipts payer arrears`` and ``receipts payer collection-rate``: the arrears (欠缴) and
collection rate (收缴率) that the declared wage bills give against the receipts issued
(docs/arrears.md), as tables, JSON, CSV or Excel workbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.sheet_rows import write_sheet
from receipts.commands.tables import format_table
from receipts.domain.finance_rules import FinanceRules, format_percent
from receipts.issuing.effective_rules import effective_rules
from receipts.stats.arrears import ArrearsReport, GroupBy, arrears_report, collection_rate
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["ARREARS_COLUMNS", "RATE_COLUMNS", "arrears", "collection_rate_cmd"]

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


def _rules(ctx: Context, ws: Workspace) -> FinanceRules:
    """The union-finance rules in force here: the rate of each item is configured there."""
    return effective_rules(ctx.database(ws), ws.config, ctx.credentials(ws).validator)


def _report(ctx: Context, item: str, period: str | None, issuer: str | None) -> ArrearsReport:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    return arrears_report(
        ctx.database(ws), _rules(ctx, ws), item=item, period=period, issuer=issuer
    )


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
        write_sheet(xlsx_file, ARREARS_COLUMNS, _ARREARS_NUMBERS, cells, sheet="欠缴明细")
    if csv_file is not None:
        write_sheet(csv_file, ARREARS_COLUMNS, _ARREARS_NUMBERS, cells, sheet=None)
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
        write_sheet(xlsx_file, RATE_COLUMNS, _RATE_NUMBERS, cells, sheet="收缴率")
    if csv_file is not None:
        write_sheet(csv_file, RATE_COLUMNS, _RATE_NUMBERS, cells, sheet=None)
    data = [dict(zip(RATE_COLUMNS, row, strict=True)) for row in cells]
    ctx.emit(data, lambda: format_table([by, *RATE_COLUMNS[1:]], cells))
