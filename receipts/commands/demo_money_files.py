"""The files the demo's money steps read (receipts/commands/demo_money.py): a payer register and a
batch as Excel workbooks, declared wage bills, and the tax bureau's collection records."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from receipts.commands.demo_files import PAYERS, batch_csv
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptItemRow, ReceiptRow

__all__ = ["MAILBOX_PAYER", "batch_xlsx", "payers_xlsx", "tax_records_csv", "wages_csv"]

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))

#: The payer whose receipts the demo mails: the enterprise the payer workspace books for.
MAILBOX_PAYER = PAYERS[0]
_EMAILS = {MAILBOX_PAYER[2]: "caiwu@helanshan.example.cn"}
#: Each declaring payer's wage bill for 2026-10 as a multiple of what its receipts paid for
#: (÷ 2%): paid in full, in arrears, overpaid; the fourth payer declares nothing.
_WAGE_FACTORS = {
    "91640100MA7600001J": Decimal("1"),
    "91640104MA7600002F": Decimal("1.25"),
    "91640000MA7600003K": Decimal("0.9"),
    "91640100MA7600005Y": Decimal("1.5"),
}


def _workbook(title: str, rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def payers_xlsx() -> bytes:
    """银川's payers on one sheet, as a clerk keeps them in Excel."""
    rows = [["uscc", "name", "kind", "union_uscc", "email"]]
    rows += [[uscc, name, kind, "", _EMAILS.get(uscc, "")] for name, kind, uscc in PAYERS]
    return _workbook("交款人", rows)


def batch_xlsx(rows: int, seed: int, prefix: str) -> bytes:
    """The CSV batch's columns and rows, typed into a workbook (every cell text, as codes
    such as ``01`` must be)."""
    table = list(csv.reader(io.StringIO(batch_csv(rows, seed, prefix))))
    return _workbook("收据", table)


def wages_csv(home: Path) -> str:
    """The declared wage bills of 2026-10, made from what the city's receipts paid (so the
    arrears report shows a payer paid in full, one in arrears, one overpaid, one undeclared)."""
    db = Database(default_url(home))
    with db.read() as session:
        # Rows unpack as tuples (Result.tuples() is deprecated from SQLAlchemy 2.1).
        paid: dict[str | None, int] = {
            payer: int(fen or 0)
            for payer, fen in session.execute(
                select(ReceiptRow.payer_id, func.sum(ReceiptItemRow.amount_fen))
                .join(
                    ReceiptItemRow,
                    (ReceiptItemRow.code == ReceiptRow.code)
                    & (ReceiptItemRow.number == ReceiptRow.number),
                )
                .where(ReceiptItemRow.item_code == "01", ReceiptItemRow.item_period == "2026-10")
                .group_by(ReceiptRow.payer_id)
            )
        }
    db.dispose()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["uscc", "period", "wage", "declared_on", "source"])
    for uscc, factor in _WAGE_FACTORS.items():
        # paid fen ÷ 2% = the wage bill in fen × 50; rounded to whole yuan as declared.
        wage = (Decimal(paid.get(uscc) or 0) * 50 * factor / 100).quantize(Decimal(1))
        writer.writerow([uscc, "2026-10", f"{wage}.00", "2026-11-10", "月度申报"])
    return out.getvalue()


def tax_records_csv() -> str:
    """The tax bureau's collections of this month for 所属期 2026-11, as its export names them."""
    today = dt.datetime.now(_SHANGHAI).date().isoformat()
    name, _kind, uscc = MAILBOX_PAYER
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "统一社会信用代码",
            "缴费人名称",
            "所属期",
            "计征基数",
            "实缴金额",
            "电子税票号码",
            "入库日期",
        ]
    )
    writer.writerow([uscc, name, "2026-11", "480000.00", "9600.00", "364012600000123", today])
    writer.writerow(
        ["91640104MA7600002F", PAYERS[1][0], "2026-11", "350000.00", "7000.00",
         "364012600000124", today]
    )  # fmt: skip
    return out.getvalue()
