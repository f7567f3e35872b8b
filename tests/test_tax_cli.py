"""``receipts tax …`` and ``issue --override-tax`` through the CLI (docs/tax.md): GBK CSV and
Excel imports, a bad file refused whole with each problem at FILE:ROW:COLUMN, the tax bureau's
payment refused a second receipt (one line naming the voucher, for one receipt and for a batch
row) and issued with the override recorded, the month's income, and the bureau's transfers
reconciled against a bank statement with planted differences."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.support.workspaces import federation, ok, receipts

USCC = "91640100MA7600001J"
NAME = "宁夏贺兰山实业有限公司"
OTHER = "91640100MA7600005Y"
HEADER = "统一社会信用代码,纳税人名称,所属期,计征基数,实缴金额,完税凭证号,入库日期\n"
ROWS = (
    f"{USCC},{NAME},2026-10,100000.00,2000.00,364016260000001,2026-11-05\n"
    f"{OTHER},宁夏六盘山有限公司,2026-10,50000.00,1000.00,364016260000002,2026-11-05\n"
    f"{OTHER},宁夏六盘山有限公司,2026-09,50000.00,1000.00,364016260000003,2026-11-06\n"
)
ISSUE = ["issue", "--payer-name", NAME, "--payer-kind", "enterprise", "--payer-uscc", USCC,
         "--item", "01:2026-10:2000.00", "--handler", "张晓梅", "--reviewer", "李建国"]  # fmt: skip


def count(home: Path, table: str) -> int:
    with sqlite3.connect(home / "ledger.sqlite") as db:
        (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    home = tmp_path / "city"
    federation(home, "640100")
    prov = tmp_path / "prov"
    federation(prov, "640000")
    ok(prov, "org", "add", "--code", "640100")
    stock = tmp_path / "a.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(stock))
    ok(home, "stock", "import", str(stock))
    return home


def test_gbk_import_then_a_second_receipt_is_refused_unless_overridden(
    city: Path, tmp_path: Path
) -> None:
    path = tmp_path / "税务代收.csv"
    path.write_bytes((HEADER + ROWS).encode("gbk"))
    assert ok(city, "tax", "import", str(path)) == "imported 3 tax record(s), total 4,000.00\n"
    result = receipts(city, *ISSUE)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: payer {USCC}, item 01, 所属期 2026-10 was collected by the tax bureau (tax "
        "voucher 364016260000001, 所属期 2026-10, collected 2026-11-05): the voucher is the "
        "payer's proof; no second receipt unless --override-tax REASON\n"
    )
    assert count(city, "receipts") == 0
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
        f"R1,{NAME},enterprise,{USCC},01,2026-11,2000.00,张晓梅,李建国\n"
        f"R2,宁夏六盘山有限公司,enterprise,{OTHER},01,2026-08,1000.00,张晓梅,李建国\n"
        f"R2,宁夏六盘山有限公司,enterprise,{OTHER},01,2026-09,1000.00,张晓梅,李建国\n",
        "utf-8",
    )
    result = receipts(city, "issue", "--batch", str(batch))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (
        f"error: {batch}:4: reference R2: payer {OTHER}, item 01, 所属期 2026-09 was collected "
        "by the tax bureau (tax voucher 364016260000003, 所属期 2026-09, collected 2026-11-06): "
        "the voucher is the payer's proof; no second receipt unless --override-tax REASON"
    )
    assert count(city, "receipts") == 0
    summary = json.loads(
        ok(city, "--json", "issue", "--batch", str(batch), "--override-tax", "补开：税务退费中")
    )
    assert summary["issued"] == 2
    ok(city, *ISSUE, "--override-tax", "单位要求补开收据")
    with sqlite3.connect(city / "ledger.sqlite") as db:
        events = [
            json.loads(payload)
            for (payload,) in db.execute(
                "SELECT payload FROM events WHERE kind = 'tax.overridden' ORDER BY seq"
            )
        ]
    assert [(e["uscc"], [ln["voucher"] for ln in e["lines"]], e["reason"]) for e in events] == [
        (OTHER, ["364016260000003"], "补开：税务退费中"),
        (USCC, ["364016260000001"], "单位要求补开收据"),
    ]
    assert receipts(city, "audit").exit_code == 0
    bad_reason = receipts(city, *ISSUE, "--override-tax", " ")
    assert bad_reason.exit_code == 2
    assert bad_reason.stderr.startswith("error: tax override reason")


def test_excel_import_and_income(city: Path, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        [
            "纳税人识别号",
            "征收品目",
            "税款所属期",
            "计税依据",
            "实缴金额",
            "电子税票号码",
            "缴款日期",
        ]
    )
    sheet.append(
        [USCC, "01", date(2026, 10, 1), 100000, 2000, "364016260000001", date(2026, 11, 5)]
    )
    sheet.append([OTHER, "03", "2026-10", 50000, 1000, "364016260000002", date(2026, 11, 6)])
    data = io.BytesIO()
    book.save(data)
    path = tmp_path / "tax.xlsx"
    path.write_bytes(data.getvalue())
    ok(city, "tax", "import", str(path))
    assert json.loads(ok(city, "--json", "tax", "income", "--month", "2026-11")) == {
        "01": "2000.00",
        "03": "1000.00",
    }
    listed = json.loads(ok(city, "--json", "tax", "list", "--month", "2026-11"))
    assert [(r["voucher"], r["period"], r["amount"]) for r in listed] == [
        ("364016260000001", "2026-10", "2000.00"),
        ("364016260000002", "2026-10", "1000.00"),
    ]


def test_a_bad_file_is_refused_whole_each_problem_at_its_row_and_column(
    city: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        (
            HEADER
            + ROWS
            + f"{USCC},{NAME},2026-10,100000.00,2000.001,364016260000004,2026-11-05\n"
            + f"{OTHER[:-1]}X,x,2026-10,1.00,1.00,364016260000002,2026-02-30\n"
        ).encode("gb18030")
    )
    result = receipts(city, "tax", "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"error: {path}:5:5: amount: amount 2000.001 has a fraction of a fen",
        f"error: {path}:6:1: uscc: USCC '{OTHER[:-1]}X' has a wrong check character (expected Y)",
        f"error: {path}:6:7: collected_on: date '2026-02-30' is not YYYY-MM-DD, YYYY/MM/DD or "
        "YYYYMMDD",
        f"error: 3 problem(s) in {path}; nothing was imported from it",
    ]
    assert count(city, "tax_collections") == 0


STATEMENT = (
    "date,amount,payer_name,reference,serial\n"
    "2026-11-06,3000.00,国家税务总局银川市税务局,工会经费划缴,TX1\n"  # the 11-05 transfer
    "2026-11-09,990.00,国家税务总局银川市税务局,工会经费划缴,TX2\n"  # 11-06: 10.00 short
    "2026-11-09,2000.00,宁夏贺兰山实业有限公司,工会经费,TX3\n"  # not the bureau
    "2026-11-28,500.00,国家税务总局银川市税务局,工会经费划缴,TX4\n"  # nothing calls for it
)


def test_reconcile_the_bureau_transfers_against_the_bank(city: Path, tmp_path: Path) -> None:
    records = tmp_path / "t.csv"
    records.write_text(
        HEADER + ROWS + f"{USCC},{NAME},2026-11,100000.00,2000.00,364016260000009,2026-11-12\n",
        "utf-8",
    )
    ok(city, "tax", "import", str(records))
    statement = tmp_path / "bank.csv"
    statement.write_bytes(STATEMENT.encode("gbk"))
    result = receipts(
        city, "--json", "tax", "reconcile", "--bank", str(statement), "--month", "2026-11"
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["matched"], report["differences"]) == (1, 3)
    assert (report["expected_total"], report["credited_total"]) == ("6000.00", "4490.00")
    lines = [(ln["status"], ln["transfer"], ln["credit"]) for ln in report["lines"]]
    assert lines == [
        ("matched", "2026-11-05", "TX1"),
        ("tax-transfer-differing", "2026-11-06", "TX2"),
        ("tax-transfer-missing", "2026-11-12", ""),
        ("tax-credit-unexplained", "", "TX4"),
    ]
    notes = [ln["note"] for ln in report["lines"]]
    assert notes[1] == (
        "the tax bureau's transfer for 2026-11-06 (1 record(s), 1000.00) arrived as 990.00 on "
        "2026-11-09 (serial TX2): 10.00 short"
    )
    # One transfer for the month (6,000.00, due from the last collection day, 11-12): the only
    # bureau credit after that day is the one it is compared with; the earlier ones are named.
    result = receipts(
        city, "--json", "tax", "reconcile", "--bank", str(statement), "--month", "2026-11",
        "--per", "month", "--window-days", "30",
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert [(ln["status"], ln["transfer"], ln["credit"]) for ln in report["lines"]] == [
        ("tax-transfer-differing", "2026-11", "TX4"),
        ("tax-credit-unexplained", "", "TX1"),
        ("tax-credit-unexplained", "", "TX2"),
    ]
    assert report["lines"][0]["note"].endswith("(serial TX4): 5500.00 short")
