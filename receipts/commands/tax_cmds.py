"""``receipts tax import | list | income | reconcile``: tax-collected union dues (税务代收,
docs/tax.md): the tax bureau's collection records imported all or nothing, listed, summed for
settlement, and its transfers reconciled against a bank statement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from receipts.commands.reconcile_report import csv_option, finish, json_option, table
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.domain.money import from_fen
from receipts.findings import FindingCode
from receipts.ledger.models import TaxCollectionRow
from receipts.reconcile.bank_statement import read_statement
from receipts.tax.importing import TaxImportRefused, import_tax_file
from receipts.tax.income import collection_month, tax_income
from receipts.tax.transfers import expected_transfers, match_transfers
from receipts.workspace import WorkspaceKind

__all__ = ["tax", "tax_import", "tax_income_cmd", "tax_list", "tax_reconcile"]


@click.group("tax")
def tax() -> None:
    """Tax-collected dues (税务代收): import the tax bureau's records, reconcile its transfers."""


_IMPORT_HELP = """Import the tax bureau's collection records, all or nothing.

\b
FILE is CSV (UTF-8 with or without BOM, GBK or GB 18030) or .xlsx, a header row naming
the columns in Chinese or English (docs/tax.md lists every accepted name):
  统一社会信用代码 / uscc         required  the payer (check character verified)
  所属期 / period                 required  2026-10, 2026Q4, 2026-01~2026-06 or 2026
                                           (or 所属期起 and 所属期止: 2026-10-01, 2026-10-31)
  计征基数 / base                 required  the wage base, yuan
  实缴金额 / amount               required  yuan, whole fen, not above the base
  完税凭证号 / voucher            required  unique forever: imported once
  入库日期 / collected_on         required  2026-10-08, 2026/10/08 or 20261008
  征收品目 / item                 optional  01 (default), 02, 03 or the catalogue name
  纳税人名称 / payer_name         optional
A file with any problem (a bad cell, a voucher seen before, a payer, item and 所属期 a
standing receipt covers) imports nothing; each problem is printed as FILE:ROW:COLUMN."""


@tax.command(
    "import",
    help=_IMPORT_HELP,
    epilog="\b\nExample:\n  receipts tax import 2026-10-税务代收.xlsx",
)
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--encoding", help="CSV encoding (default: UTF-8, else GB 18030, which covers GBK).")
@with_context
def tax_import(ctx: Context, path: Path, encoding: str | None) -> None:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", "clerk", action="importing tax records")
    try:
        done = import_tax_file(
            ctx.database(ws),
            ws.ledger_owner,
            path,
            ws.catalogue,
            ctx.credentials(ws).signer_if_any(),
            encoding=encoding,
        )
    except TaxImportRefused as refused:
        for problem in refused.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"error: {refused}", err=True)
        fail_with_findings()
    data = {
        "records": done.records,
        "total": f"{done.total:.2f}",
        "event": done.event_seq,
        "sha256": done.sha256,
    }
    ctx.emit(data, lambda: f"imported {done.records} tax record(s), total {done.total:,.2f}")


@tax.command("list", epilog="\b\nExample:\n  receipts tax list --month 2026-10")
@click.option("--month", required=True, help="Collection month, YYYY-MM.")
@with_context
def tax_list(ctx: Context, month: str) -> None:
    """The imported tax records collected in a month."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    start, end = collection_month(month)
    with ctx.database(ws).read() as session:
        rows = [
            {
                "voucher": r.voucher,
                "collected_on": r.collected_on.isoformat(),
                "uscc": r.uscc,
                "payer_name": r.payer_name or "",
                "item": r.item_code,
                "period": r.period,
                "base": f"{from_fen(r.base_fen):.2f}",
                "amount": f"{from_fen(r.amount_fen):.2f}",
            }
            for r in session.scalars(
                select(TaxCollectionRow)
                .where(
                    TaxCollectionRow.issuer == ws.ledger_owner,
                    TaxCollectionRow.collected_on >= start,
                    TaxCollectionRow.collected_on < end,
                )
                .order_by(TaxCollectionRow.collected_on, TaxCollectionRow.voucher)
            )
        ]
    ctx.emit(rows, lambda: table(rows, list(rows[0])) if rows else "no tax records")


@tax.command("income", epilog="\b\nExample:\n  receipts tax income --month 2026-10")
@click.option("--month", required=True, help="Collection month, YYYY-MM.")
@with_context
def tax_income_cmd(ctx: Context, month: str) -> None:
    """Tax-collected income of a month by item (what settlement adds to the receipts')."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    with ctx.database(ws).read() as session:
        totals = tax_income(session, ws.ledger_owner, month)
    data = {item: f"{from_fen(fen):.2f}" for item, fen in sorted(totals.items())}
    ctx.emit(
        data,
        lambda: "\n".join(f"{item}  {amount}" for item, amount in data.items()) or "none",
    )


_RECONCILE_HELP = """Match the tax bureau's transfers for a month of collections with the
credits of a bank statement, naming every difference.

\b
Expected transfers: the imported records' sums per collection day (--per day) or for the month
(--per month). Bureau credits: statement credits whose payer name contains --bureau, dated
from the month's first day to --window-days after its last. A transfer and a credit of the
same amount within the window match; a transfer with only one credit left in its window of
another amount is tax-transfer-differing (the difference named); what is left is
tax-transfer-missing or tax-credit-unexplained. STATEMENT is the CSV of receipts reconcile bank.

Exit 1 when anything differs or a statement row is refused; 2 when the file cannot be read."""

_COLUMNS = ("status", "transfer", "expected", "credit", "date", "amount", "note")


@tax.command(
    "reconcile",
    help=_RECONCILE_HELP,
    epilog="\b\nExample:\n  receipts tax reconcile --bank 2026-11-statement.csv --month 2026-10",
)
@click.option(
    "--bank",
    "statement",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--month", required=True, help="Collection month, YYYY-MM.")
@click.option("--per", type=click.Choice(["day", "month"]), default="day", show_default=True)
@click.option("--bureau", default="税务", show_default=True, help="Text in the bureau's name.")
@click.option("--window-days", type=click.IntRange(0, 366), default=10, show_default=True)
@csv_option
@json_option
@with_context
def tax_reconcile(
    ctx: Context,
    statement: Path,
    month: str,
    per: str,
    bureau: str,
    window_days: int,
    csv_path: Path | None,
    as_json: bool,
) -> None:
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    read = read_statement(statement)
    with ctx.database(ws).read() as session:
        expected = expected_transfers(
            session, ws.ledger_owner, month, "day" if per == "day" else "month"
        )
    report = match_transfers(expected, read.credits, month, bureau=bureau, window_days=window_days)
    for problem in read.problems:
        click.echo(str(problem), err=True)
    rows: list[dict[str, Any]] = [
        {
            "status": FindingCode.BANK_MATCHED,
            "transfer": t.label,
            "expected": f"{t.amount:.2f}",
            "credit": c.label,
            "date": c.on.isoformat(),
            "amount": f"{c.amount:.2f}",
            "note": f"{t.records} record(s)",
        }
        for t, c in report.matched
    ]
    rows += [
        {
            "status": d.code,
            "transfer": d.transfer.label if d.transfer else "",
            "expected": f"{d.transfer.amount:.2f}" if d.transfer else "",
            "credit": d.credit.label if d.credit else "",
            "date": d.credit.on.isoformat() if d.credit else "",
            "amount": f"{d.credit.amount:.2f}" if d.credit else "",
            "note": d.message,
        }
        for d in report.differences
    ]
    counts = {
        "matched": len(report.matched),
        "differences": len(report.differences),
        "expected_total": f"{report.expected_total:.2f}",
        "credited_total": f"{report.credited_total:.2f}",
        "bad_rows": len(read.problems),
    }

    def human() -> str:
        head = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        return head + ("\n\n" + table(rows, list(_COLUMNS)) if rows else "")

    failed = bool(report.differences or read.problems)
    finish(ctx, {**counts, "lines": rows}, human, rows, _COLUMNS, csv_path, failed)
