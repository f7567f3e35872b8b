"""``receipts voucher export`` at a federation through the command line: JSON, the CSV file and
the Excel workbook (opened back with openpyxl, and by LibreOffice where installed), their totals
against ``receipts stats``, formula injection, and bad options as one line with nothing written."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from receipts.commands.voucher_cmds import COLUMNS
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from tests.support.skips import need_tool
from tests.support.stats_ledger import fill
from tests.support.workspaces import federation, receipts

# LibreOffice's CSV filter with its options: comma, double quote, UTF-8 (76), from line 1; the
# default character set is the locale's, which turns the Chinese names into "?".
_UTF8_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1"
HOSTILE = '=HYPERLINK("http://example.invalid","点我")'


@pytest.fixture
def city_home(tmp_path: Path) -> Path:
    """银川's workspace whose SQLite ledger holds :data:`tests.support.stats_ledger.LEDGER`."""
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    db = Database(default_url(home))
    initialise(db, "640100")
    fill(db)
    db.dispose()
    return home


def configure(home: Path, text: str) -> None:
    with (home / "receipts.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + text)


def stats_net(home: Path, first: str, last: str) -> Decimal:
    result = receipts(home, "--json", "stats", "--by", "issuer", "--from", first, "--to", last)
    assert result.exit_code == 0, result.output
    [mine] = [r for r in json.loads(result.stdout)["by"]["issuer"] if r["key"] == "640100"]
    return Decimal(mine["net_amount"])


def test_json_vouchers_balance_and_tie_to_stats(city_home: Path) -> None:
    result = receipts(
        city_home, "--json", "voucher", "export", "--from", "2026-08", "--to", "2026-10"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["owner"], data["side"], data["from"], data["to"]) == (
        "640100",
        "issuer",
        "2026-08",
        "2026-10",
    )
    assert [(v["number"], v["debit"], v["credit"]) for v in data["vouchers"]] == [
        ("记-2026-08-001", "999.00", "999.00"),
        ("记-2026-09-001", "1250.50", "1250.50"),
        ("记-2026-10-001", "-50.00", "-50.00"),
    ]
    income = sum(
        Decimal(line["amount"])
        for v in data["vouchers"]
        for line in v["lines"]
        if line["side"] == "credit"
    )
    assert income == Decimal(data["total"]) == stats_net(city_home, "2026-08", "2026-10")


def test_csv_and_xlsx_hold_the_same_lines(city_home: Path, tmp_path: Path) -> None:
    out_csv, out_xlsx = tmp_path / "v.csv", tmp_path / "v.xlsx"
    result = receipts(
        city_home,
        "voucher",
        "export",
        "--from",
        "2026-09",
        "--to",
        "2026-10",
        "--csv",
        str(out_csv),
        "--xlsx",
        str(out_xlsx),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [f"wrote {out_csv}", f"wrote {out_xlsx}"]
    assert "记-2026-10-001" in result.stdout and "total" in result.stdout
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1] == [
        "记-2026-09-001",
        "2026-09-30",
        "2026-09",
        "收到工会经费等 2026年9月收据 2 张",
        "102",
        "银行存款",
        "",
        "1250.50",
        "",
        "2",
        "receipts",
    ]
    assert rows[-1][:9] == [
        "记-2026-10-001",
        "2026-10-31",
        "2026-10",
        "冲红 会员会费收入",
        "401",
        "会费收入",
        "02 会员会费 所属期 2026-10",
        "",
        "-50.00",
    ]
    debit = sum(Decimal(r[7]) for r in rows[1:] if r[7])
    credit = sum(Decimal(r[8]) for r in rows[1:] if r[8])
    assert debit == credit == stats_net(city_home, "2026-09", "2026-10")

    book = openpyxl.load_workbook(out_xlsx)
    assert book.sheetnames == ["记账凭证"]
    sheet = book["记账凭证"]
    assert sheet.freeze_panes == "A2"
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert tuple(cells[0]) == COLUMNS
    assert len(cells) == len(rows)
    amount, red, documents = sheet.cell(2, 8), sheet.cell(len(cells), 9), sheet.cell(2, 10)
    assert (amount.value, amount.number_format) == (1250.5, "#,##0.00")
    assert (red.value, red.number_format) == (-50, "#,##0.00")
    assert (documents.value, documents.number_format) == (2, "0")
    assert sheet.cell(2, 5).data_type == "s"  # account codes stay text ("102", never 102.0)
    for xlsx_row, csv_row in zip(cells[1:], rows[1:], strict=True):
        assert [str(v) if v is not None else "" for v in xlsx_row[:7]] == csv_row[:7]
        for column in (7, 8):
            want = Decimal(csv_row[column]) if csv_row[column] else None
            got = xlsx_row[column]
            assert (Decimal(str(got)) if got is not None else None) == want


def test_configured_names_cannot_inject_formulas(city_home: Path, tmp_path: Path) -> None:
    configure(city_home, f"[vouchers.accounts]\n\"402\" = '{HOSTILE}'\n")
    out_csv, out_xlsx = tmp_path / "v.csv", tmp_path / "v.xlsx"
    result = receipts(
        city_home, "voucher", "export", "--from", "2026-09", "--to", "2026-09",
        "--csv", str(out_csv), "--xlsx", str(out_xlsx),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out_csv.read_text("utf-8-sig"))))
    assert rows[2][5] == "'" + HOSTILE
    cell = openpyxl.load_workbook(out_xlsx)["记账凭证"].cell(3, 6)
    assert (cell.value, cell.data_type) == (HOSTILE, "s")


def test_libreoffice_opens_the_voucher_workbook(city_home: Path, tmp_path: Path) -> None:
    office = need_tool("soffice", "libreoffice-calc-nogui")
    path = tmp_path / "vouchers.xlsx"
    result = receipts(city_home, "voucher", "export", "--from", "2026-09", "--xlsx", str(path))
    assert result.exit_code == 0, result.output
    out = tmp_path / "converted"
    subprocess.run(
        [office, "--headless", "--convert-to", _UTF8_CSV, "--outdir", str(out), str(path)],
        check=True,
        timeout=120,
        capture_output=True,
        # LibreOffice keeps a user profile; a fresh one under tmp_path, never the machine's.
        env={**os.environ, "HOME": str(tmp_path)},
    )
    rows = list(csv.reader(io.StringIO((out / "vouchers.csv").read_text("utf-8"))))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == ["记-2026-09-001"] * 3 + ["记-2026-10-001"] * 2
    assert rows[1][4:6] == ["102", "银行存款"]
    debit = sum(Decimal(r[7].replace(",", "")) for r in rows[1:] if r[7])
    credit = sum(Decimal(r[8].replace(",", "")) for r in rows[1:] if r[8])
    assert debit == credit == Decimal("1200.50")


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--from", "2026/09"], "", "error: --from '2026/09' must be a month YYYY-MM"),
        (["--from", "2026-10", "--to", "2026-09"], "", "error: --from 2026-10 is after --to"),
        ([], '[vouchers]\nbank = "102"\n', "error: unknown keys in [vouchers]: bank"),
        (
            [],
            '[vouchers.issuer.income]\n"01" = "4021"\n',
            "error: [vouchers.issuer.income] 01: account 4021 is not in the chart",
        ),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    city_home: Path, tmp_path: Path, args: list[str], config: str, message: str
) -> None:
    if config:
        configure(city_home, config)
    out = tmp_path / "v.csv"
    result = receipts(city_home, "voucher", "export", *args, "--csv", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not out.exists()


def test_no_vouchers_in_an_empty_span(city_home: Path) -> None:
    result = receipts(city_home, "voucher", "export", "--from", "2027-01")
    assert result.exit_code == 0, result.output
    assert result.stdout == "no vouchers: nothing issued in the months asked\n"
