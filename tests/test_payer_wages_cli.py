"""``receipts payer …`` with Excel and wage bills through the CLI (docs/arrears.md): the register
exported to .xlsx and imported back; wage files (CSV and .xlsx) all or nothing with every bad
row named by row and column; corrections with a reason and their history; ``payer arrears`` and
``payer collection-rate`` as tables, JSON, CSV and workbooks opened back with openpyxl and
converted by LibreOffice."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from tests.support.operators import as_operator, with_operators
from tests.support.skips import need_tool
from tests.support.workspaces import federation, ok, receipts

A = "91640100MA7600001J"
B = "91640100MA7600005Y"
UNION = "81640100MA7600002N"
WAGE_HEADER = ["uscc", "period", "wage", "declared_on", "source", "reason"]


def count(home: Path, table: str) -> int:
    with sqlite3.connect(home / "ledger.sqlite") as db:
        (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


def workbook(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title
    for values in rows:
        sheet.append(values)
    book.save(path)
    return path


def sheet_of(path: Path) -> Worksheet:
    book = openpyxl.load_workbook(path)
    assert len(book.sheetnames) == 1
    sheet = book[book.sheetnames[0]]
    assert isinstance(sheet, Worksheet)
    return sheet


@pytest.fixture
def city(tmp_path: Path) -> Path:
    home = tmp_path / "city"
    federation(home, "640100")
    ok(
        home,
        "payer",
        "add",
        "--uscc",
        A,
        "--name",
        "宁夏贺兰山实业有限公司",
        "--kind",
        "enterprise",
        "--union-uscc",
        UNION,
        "--email",
        "caiwu@helanshan.example.cn",
    )
    ok(
        home,
        "payer",
        "add",
        "--uscc",
        B,
        "--name",
        '=HYPERLINK("http://x")',
        "--kind",
        "enterprise",
    )
    return home


def test_register_xlsx_round_trip(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "payers.xlsx"
    assert ok(city, "payer", "export", str(out)) == f"wrote 2 payers to {out}\n"
    sheet = sheet_of(out)
    assert sheet.title == "交款人"
    assert sheet.freeze_panes == "A2"
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0] == ["uscc", "name", "kind", "union_uscc", "email"]
    assert rows[2][1] == '=HYPERLINK("http://x")'
    assert sheet.cell(row=3, column=2).data_type == "s"  # text, never a formula
    again = tmp_path / "again"
    federation(again, "640100")
    assert ok(again, "payer", "import", str(out)) == "registered 2, updated 0, unchanged 0\n"
    assert ok(again, "--json", "payer", "list") == ok(city, "--json", "payer", "list")
    assert ok(city, "payer", "import", str(out)) == "registered 0, updated 0, unchanged 2\n"


def test_register_xlsx_bad_rows_named_nothing_imported(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    federation(home, "640100")
    bad = workbook(
        tmp_path / "bad.xlsx",
        [
            ["uscc", "name", "kind", "union_uscc", "email"],
            [A, "宁夏贺兰山实业有限公司", "enterprise", UNION, None],
            ["91640100MA7600001K", "坏的", "enterprise", None, None],
            [B, "宁夏六盘山有限公司", "company", None, "a@b"],
            [B, True, "enterprise", None, None],
        ],
    )
    result = receipts(home, "payer", "import", str(bad))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {bad}:5: column name: a TRUE/FALSE cell")
    assert lines[1].startswith(f"error: {bad}:3: column uscc: ")
    assert lines[2].startswith(f"error: {bad}:4: column kind: 'company' is not a valid payer kind")
    assert lines[3].startswith(f"error: {bad}:4: column email: ")
    assert lines[-1] == f"error: {len(lines) - 1} problem(s) in {bad}; nothing was imported"
    assert count(home, "payers") == 0


def test_wage_file_bad_rows_named_by_row_and_column(city: Path, tmp_path: Path) -> None:
    bad = tmp_path / "wages.csv"
    bad.write_text(
        ",".join(WAGE_HEADER) + "\n"
        f"{A},2026-10,1250000.00,2026-11-05,企业申报,\n"
        f"{A},2026-13,1.00,2026-11-05,企业申报,\n"
        f"{A},2026-11,12.345,2026/11/05,,\n"
        f"91640100MA7600009X,2026-10,1.00,2026-11-05,企业申报,\n"
        f"{A},2026Q4,1.00,2026-11-05,企业申报,\n",
        "utf-8",
    )
    result = receipts(city, "payer", "wages", "import", str(bad))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"error: {bad}:3: column period: period '2026-13' must be a month (2026-10), a quarter "
        "(2026Q4), a range (2026-01~2026-06) or a year (2026)"
    )
    assert lines[1] == f"error: {bad}:4: column wage: amount 12.345 has a fraction of a fen"
    assert lines[2] == (
        f"error: {bad}:4: column declared_on: declared date '2026/11/05' must be a date YYYY-MM-DD"
    )
    assert lines[3] == f"error: {bad}:4: column source: required"
    assert lines[4].startswith(f"error: {bad}:5: column uscc: ")
    assert lines[5] == f"error: 5 problem(s) in {bad}; nothing was imported"
    assert count(city, "wage_declarations") == 0
    # Cells read, then the declarations are held against the ledger and each other.
    overlap = tmp_path / "overlap.csv"
    overlap.write_text(
        ",".join(WAGE_HEADER) + "\n"
        f"{A},2026-10,1250000.00,2026-11-05,企业申报,\n"
        f"{A},2026Q4,1.00,2026-11-05,企业申报,\n"
        f"{B},2026-10,1.00,2099-01-01,企业申报,\n",
        "utf-8",
    )
    result = receipts(city, "payer", "wages", "import", str(overlap))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[:2] == [
        f"error: {overlap}:3: column period: 2026Q4 overlaps 2026-10 above",
        f"error: {overlap}:4: column declared_on: declared date 2099-01-01 is after today "
        + result.stderr.splitlines()[1].rsplit("after today ", 1)[1],
    ]
    assert count(city, "wage_declarations") == 0


def test_wages_xlsx_import_correction_and_history(city: Path, tmp_path: Path) -> None:
    from datetime import datetime

    good = workbook(
        tmp_path / "wages.xlsx",
        [
            WAGE_HEADER,
            [A, datetime(2026, 10, 1), 1250000, "2026-11-05", "企业申报", None],
            [A, "2026-11", 1234567.89, "2026-12-01", "企业申报", None],
            [B, "2026-10", "100.25", "2026-11-05", "税务", None],
        ],
        title="工资总额",
    )
    out = ok(city, "payer", "wages", "import", str(good))
    assert out == "declared 3, corrected 0, unchanged 0\n"
    assert (
        ok(city, "payer", "wages", "import", str(good)) == "declared 0, corrected 0, unchanged 3\n"
    )
    refused = receipts(
        city, "payer", "wages", "set", A, "2026-10", "1300000", "--source", "企业申报"
    )
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: {A} declared 1250000.00 for 2026-10 already (event 3); a correction needs "
        "a reason\n"
    )
    ok(
        city,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1300000",
        "--source",
        "企业申报",
        "--declared-on",
        "2026-11-20",
        "--reason",
        "更正: 漏报奖金",
    )
    history = json.loads(ok(city, "--json", "payer", "wages", "show", A))
    assert [(h["period"], h["wage"], h["current"], h["reason"]) for h in history] == [
        ("2026-10", "1250000.00", False, None),
        ("2026-11", "1234567.89", True, None),
        ("2026-10", "1300000.00", True, "更正: 漏报奖金"),
    ]
    assert history[2]["supersedes"] == history[0]["event"]
    assert "superseded" in ok(city, "payer", "wages", "show", A)
    assert receipts(city, "audit").exit_code == 0
    with sqlite3.connect(city / "ledger.sqlite") as db:
        db.execute("UPDATE wage_declarations SET wage_fen = 100 WHERE reason IS NOT NULL")
    audited = receipts(city, "audit")
    assert audited.exit_code == 1
    assert "payer-mismatch" in audited.output


def _issue(city: Path, tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    federation(prov, "640000")
    ok(prov, "org", "add", "--code", "640100")
    stock = tmp_path / "a.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(stock))
    ok(city, "stock", "import", str(stock))
    ok(
        city,
        "issue",
        "--payer-name",
        "宁夏贺兰山实业有限公司",
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        A,
        "--item",
        "01:2026-10:20000.00",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
    )


def test_arrears_and_collection_rate_reports(city: Path, tmp_path: Path) -> None:
    _issue(city, tmp_path)
    ok(
        city,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1250000.00",
        "--source",
        "企业申报",
        "--declared-on",
        "2026-11-05",
    )
    xlsx, csv_file = tmp_path / "欠缴.xlsx", tmp_path / "欠缴.csv"
    data = json.loads(
        ok(
            city,
            "--json",
            "payer",
            "arrears",
            "--period",
            "2026-10",
            "--xlsx",
            str(xlsx),
            "--csv",
            str(csv_file),
        )
    )
    assert [
        (d["uscc"], d["status"], d["expected"], d["paid"], d["arrears"], d["rate_percent"])
        for d in data
    ] == [
        (A, "declared", "25000.00", "20000.00", "5000.00", "80.00"),
        (B, "undeclared", None, "0.00", None, None),
    ]
    sheet = sheet_of(xlsx)
    assert (sheet.title, sheet.freeze_panes) == ("欠缴明细", "A2")
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["uscc", "name", "item", "period"]
    first = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert first["expected"].value == Decimal("25000.00") or first["expected"].value == 25000
    assert first["expected"].number_format == "#,##0.00"
    assert first["rate_percent"].value == 80 and first["rate_percent"].number_format == "#,##0.00"
    second = {h: c for h, c in zip(header, sheet[3], strict=True)}
    assert second["name"].value == '=HYPERLINK("http://x")' and second["name"].data_type == "s"
    assert (second["status"].value, second["expected"].value) == ("undeclared", None)
    rows = list(csv.reader(io.StringIO(csv_file.read_text("utf-8-sig"))))
    assert rows[1][7:] == ["1250000.00", "25000.00", "20000.00", "5000.00", "80.00"]
    assert rows[2][1] == '\'=HYPERLINK("http://x")'
    human = ok(city, "payer", "arrears")
    assert "item 01 at 2% of the declared wage bill" in human and "undeclared" in human
    rate_xlsx = tmp_path / "收缴率.xlsx"
    groups = json.loads(
        ok(city, "--json", "payer", "collection-rate", "--by", "tier", "--xlsx", str(rate_xlsx))
    )
    assert [
        (g["key"], g["expected"], g["paid"], g["rate_percent"], g["undeclared"]) for g in groups
    ] == [
        ("city", "25000.00", "20000.00", "80.00", 1),
        ("total", "25000.00", "20000.00", "80.00", 1),
    ]
    rate_sheet = sheet_of(rate_xlsx)
    assert (rate_sheet.title, rate_sheet.freeze_panes) == ("收缴率", "A2")
    assert rate_sheet.cell(row=2, column=2).value == 1  # declared: a count
    assert rate_sheet.cell(row=2, column=2).number_format == "0"
    refused = receipts(city, "payer", "arrears", "--item", "03")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: item 03 allows the range 0%~2%, not one rate")


def test_libreoffice_opens_the_arrears_workbook(city: Path, tmp_path: Path) -> None:
    office = need_tool("soffice", "libreoffice-calc-nogui")
    ok(
        city,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1250000.00",
        "--source",
        "企业申报",
        "--declared-on",
        "2026-11-05",
    )
    path = tmp_path / "arrears.xlsx"
    ok(city, "payer", "arrears", "--xlsx", str(path))
    out = tmp_path / "converted"
    subprocess.run(
        [office, "--headless", "--convert-to", "csv", "--outdir", str(out), str(path)],
        check=True,
        timeout=120,
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},  # a fresh LibreOffice profile
    )
    rows = list(csv.reader(io.StringIO((out / "arrears.csv").read_text("utf-8"))))
    assert rows[0][:3] == ["uscc", "name", "item"]
    assert rows[1][0] == A and Decimal(rows[1][8].replace(",", "")) == Decimal("25000.00")
    assert rows[2][1] == '=HYPERLINK("http://x")'  # text, not a formula


def test_a_province_reports_its_citys_receipts_from_transmission(
    city: Path, tmp_path: Path
) -> None:
    """银川 declares and issues, then transmits (its wage events travel as opaque events); 宁夏
    keeps its own register and declaration, and counts 银川's receipt, attributed to 银川."""
    _issue(city, tmp_path)
    ok(
        city,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1250000.00",
        "--source",
        "企业申报",
        "--declared-on",
        "2026-11-05",
    )
    package = tmp_path / "640100-1.zip"
    ok(city, "transmit", "export", "-o", str(package))
    prov = tmp_path / "prov"
    ok(prov, "transmit", "import", str(package))
    ok(
        prov,
        "payer",
        "add",
        "--uscc",
        A,
        "--name",
        "宁夏贺兰山实业有限公司",
        "--kind",
        "enterprise",
    )
    ok(
        prov,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1000000.00",
        "--source",
        "税务",
        "--declared-on",
        "2026-11-06",
    )
    rows = json.loads(ok(prov, "--json", "payer", "arrears"))
    assert [
        (r["issuer"], r["tier"], r["expected"], r["paid"], r["arrears"], r["rate_percent"])
        for r in rows
    ] == [("640100", "city", "20000.00", "20000.00", "0.00", "100.00")]
    groups = json.loads(ok(prov, "--json", "payer", "collection-rate", "--by", "issuer"))
    assert [(g["key"], g["rate_percent"]) for g in groups] == [
        ("640100", "100.00"),
        ("total", "100.00"),
    ]
    assert receipts(prov, "audit").exit_code == 0


def test_roles_clerk_or_admin_declare_anyone_reads(tmp_path: Path) -> None:
    home = with_operators(tmp_path / "ops", names=("李静", "张晓梅", "李建国", "王芳"))
    add = ["payer", "add", "--uscc", A, "--name", "宁夏贺兰山实业有限公司", "--kind", "enterprise"]
    assert as_operator(home, "张晓梅", *add).exit_code == 0
    declare = ["payer", "wages", "set", A, "2026-10", "1.00", "--source", "企业申报"]
    for name, role in (("王芳", "an auditor"), ("李建国", "a reviewer")):
        result = as_operator(home, name, *declare)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"error: {name} is {role}; declaring wage bills needs an admin or a clerk\n"
        )
    assert as_operator(home, "张晓梅", *declare).exit_code == 0
    shown = as_operator(home, "王芳", "--json", "payer", "wages", "show", A)
    assert json.loads(shown.stdout)[0]["wage"] == "1.00"
    report = as_operator(home, "王芳", "--json", "payer", "arrears")
    assert report.exit_code == 0, report.output


def test_wages_export_round_trip(city: Path, tmp_path: Path) -> None:
    wages = tmp_path / "in.csv"
    wages.write_text(
        ",".join(WAGE_HEADER) + "\n"
        f"{A},2026-10,1250000.00,2026-11-05,企业申报,\n"
        f"{B},2026Q4,300.10,2026-11-05,税务,\n",
        "utf-8",
    )
    ok(city, "payer", "wages", "import", str(wages))
    ok(
        city,
        "payer",
        "wages",
        "set",
        A,
        "2026-10",
        "1300000",
        "--source",
        "企业申报",
        "--declared-on",
        "2026-11-20",
        "--reason",
        "更正",
    )
    out = tmp_path / "wages.xlsx"
    assert ok(city, "payer", "wages", "export", str(out)) == f"wrote 2 declarations to {out}\n"
    sheet = sheet_of(out)
    assert (sheet.title, sheet.freeze_panes) == ("工资总额", "A2")
    assert [c.value for c in sheet[1]] == WAGE_HEADER
    assert [c.value for c in sheet[2]][:3] == [A, "2026-10", 1300000]
    assert sheet.cell(row=2, column=3).number_format == "#,##0.00"
    assert sheet.cell(row=3, column=3).value == 300.1  # a number, as Excel holds it
    assert (
        ok(city, "payer", "wages", "import", str(out)) == "declared 0, corrected 0, unchanged 2\n"
    )
    as_csv = tmp_path / "wages.csv"
    ok(city, "payer", "wages", "export", str(as_csv))
    assert as_csv.read_text("utf-8-sig").splitlines()[1:] == [
        f"{A},2026-10,1300000.00,2026-11-20,企业申报,更正",
        f"{B},2026Q4,300.10,2026-11-05,税务,",
    ]
    fresh = tmp_path / "fresh"
    federation(fresh, "640100")
    register = tmp_path / "payers.xlsx"
    ok(city, "payer", "export", str(register))
    ok(fresh, "payer", "import", str(register))
    assert (
        ok(fresh, "payer", "wages", "import", str(out)) == "declared 2, corrected 0, unchanged 0\n"
    )
    assert ok(fresh, "--json", "payer", "arrears") == ok(city, "--json", "payer", "arrears")
