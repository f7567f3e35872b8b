"""``receipts payer …`` with Excel and wage bills through the CLI (docs/arrears.md): the register
exported to .xlsx and imported back; wage files (CSV and .xlsx) all or nothing with every bad
row named by row and column; corrections with a reason and their history; who may declare.
The reports (``payer arrears``, ``payer collection-rate``) are tests/test_payer_reports_cli.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.support import payer_wages as shared
from tests.support.operators import as_operator, with_operators
from tests.support.payer_wages import UNION, WAGE_HEADER, A, B, count, sheet_of, workbook
from tests.support.workspaces import federation, ok, receipts

# The city fixture, shared with the other payer CLI tests (pytest finds a fixture among a
# module's names).
city = shared.city


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
