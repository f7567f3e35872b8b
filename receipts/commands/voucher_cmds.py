"""``receipts voucher export``: accounting vouchers (记账凭证) of a federation's receipts or of a
payer's booked receipts, as a table, JSON, CSV or an Excel workbook (docs/vouchers.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.spreadsheet import spreadsheet_csv
from receipts.commands.spreadsheet_xlsx import spreadsheet_xlsx
from receipts.commands.tables import format_table
from receipts.domain.money import format_amount, from_fen
from receipts.vouchers.builder import VoucherSet, issuer_vouchers, month_span, payer_vouchers
from receipts.vouchers.model import Side, Voucher, VoucherLine
from receipts.workspace import WorkspaceKind

__all__ = ["COLUMNS", "SHEET", "voucher", "voucher_export", "write_vouchers"]

COLUMNS = (
    "凭证号",
    "日期",
    "会计期间",
    "摘要",
    "科目编码",
    "科目名称",
    "明细",
    "借方金额",
    "贷方金额",
    "附单据数",
    "来源",
)
"""The columns of the CSV file and the workbook: one row per voucher line (docs/vouchers.md)."""
_NUMERIC = ("借方金额", "贷方金额", "附单据数")
SHEET = "记账凭证"
"""The workbook's sheet."""

_EXAMPLES = """\b
Examples:
  receipts voucher export --from 2026-10 --to 2026-10 --xlsx 凭证-2026-10.xlsx
  receipts voucher export --from 2026-01 --to 2026-12 --csv vouchers-2026.csv
  receipts --json voucher export --from 2026-10

\b
At a federation: a voucher per month of issue, 借 银行存款 / 贷 each item's income account,
a line per item and 所属期; red receipts are negative lines (红字) in the month they were
issued, so the income equals `receipts stats`' net for the same months. At a payer: a voucher
per voucher number given `book --voucher`, in the month booked, 借 应付职工薪酬 (工会经费) /
贷 银行存款. Account codes: receipts.toml [vouchers] over the shipped defaults."""


@click.group("voucher")
def voucher() -> None:
    """Accounting vouchers (记账凭证) of receipts issued or booked."""


@voucher.command("export", epilog=_EXAMPLES)
@click.option("--from", "first", metavar="YYYY-MM", help="First month (of issue, or booked).")
@click.option("--to", "last", metavar="YYYY-MM", help="Last month.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the vouchers as CSV (UTF-8 with BOM, for spreadsheets).",
)
@click.option(
    "--xlsx",
    "xlsx_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the vouchers as an Excel workbook (sheet 记账凭证).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine output (as the group's).")
@with_context
def voucher_export(
    ctx: Context,
    first: str | None,
    last: str | None,
    csv_file: Path | None,
    xlsx_file: Path | None,
    as_json: bool,
) -> None:
    """Vouchers of the receipts issued (at a federation) or booked (at a payer)."""
    ctx.json = ctx.json or as_json
    span = month_span(first, last)
    ws = ctx.workspace()
    db = ctx.database(ws)
    config = ws.config.vouchers
    if ws.kind is WorkspaceKind.FEDERATION:
        assert ws.config.org_code is not None
        vouchers = issuer_vouchers(db, ws.config.org_code, config, ws.catalogue, span)
    else:
        assert ws.config.uscc is not None
        vouchers = payer_vouchers(db, ws.config.uscc, config, ws.catalogue, span, ws.config.zone)
    if csv_file is not None:
        write_vouchers(vouchers, csv_file)
    if xlsx_file is not None:
        write_vouchers(vouchers, xlsx_file, xlsx=True)
    ctx.emit(_json(vouchers), lambda: _human(vouchers))
    for written in (csv_file, xlsx_file):
        if written is not None:
            ctx.echo(f"wrote {written}")


def write_vouchers(vouchers: VoucherSet, path: Path, *, xlsx: bool = False) -> None:
    """One row per voucher line, in :data:`COLUMNS`; CSV through the product's one CSV writer
    (UTF-8 with BOM, CRLF, text cells neutralised against formula injection), or a workbook with
    the sheet 记账凭证 (amounts as numbers, format ``#,##0.00``, header row frozen)."""
    writer = (
        spreadsheet_xlsx(path, COLUMNS, numeric=_NUMERIC, sheet=SHEET)
        if xlsx
        else spreadsheet_csv(path, COLUMNS, numeric=_NUMERIC)
    )
    with writer as sheet:
        for v in vouchers.vouchers:
            for line in v.lines:
                sheet.row(_row(v, line))


def _row(v: Voucher, line: VoucherLine) -> list[object]:
    amount = from_fen(line.fen)
    debit, credit = (amount, None) if line.side is Side.DEBIT else (None, amount)
    return [
        v.number,
        v.day.isoformat(),
        v.month,
        line.summary,
        line.account.code,
        line.account.name,
        line.detail,
        debit,
        credit,
        v.documents,
        v.source,
    ]


def _amount(fen: int) -> str:
    return format_amount(from_fen(fen))


def _json(vouchers: VoucherSet) -> dict[str, Any]:
    return {
        "owner": vouchers.owner,
        "side": vouchers.side,
        "from": vouchers.span.first,
        "to": vouchers.span.last,
        "total": _amount(vouchers.total_fen),
        "vouchers": [
            {
                "number": v.number,
                "date": v.day.isoformat(),
                "month": v.month,
                "source": v.source,
                "documents": v.documents,
                "debit": _amount(v.debit_fen),
                "credit": _amount(v.credit_fen),
                "lines": [
                    {
                        "summary": line.summary,
                        "account": line.account.code,
                        "account_name": line.account.name,
                        "detail": line.detail,
                        "side": line.side.value,
                        "amount": _amount(line.fen),
                    }
                    for line in v.lines
                ],
            }
            for v in vouchers.vouchers
        ],
    }


def _human(vouchers: VoucherSet) -> str:
    if not vouchers.vouchers:
        done = "issued" if vouchers.side == "issuer" else "booked"
        return f"no vouchers: nothing {done} in the months asked"
    rows: list[Sequence[object]] = [
        [
            v.number,
            v.day.isoformat(),
            v.source,
            len(v.lines),
            v.documents,
            _grouped(v.debit_fen),
            _grouped(v.credit_fen),
        ]
        for v in vouchers.vouchers
    ]
    total = _grouped(vouchers.total_fen)
    rows.append(["total", "", "", "", "", total, total])
    headers = ["voucher", "date", "source", "lines", "documents", "debit", "credit"]
    return format_table(headers, rows) + "\n(every voucher balances: debits = credits)"


def _grouped(fen: int) -> str:
    return format_amount(from_fen(fen), grouping=True)
