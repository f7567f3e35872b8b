"""Excel where clerks live: .xlsx batch files read as their CSV twins (rows numbered as Excel
shows them), refused when they are not workbooks, are compression bombs, hide rows or hold formulas
without saved values; and the .xlsx reports of stats and reconcile, opened back with openpyxl."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from receipts.batch import xlsx_file
from receipts.batch.csv_file import COLUMNS
from receipts.batch.reader import read_batch
from receipts.commands.spreadsheet_xlsx import spreadsheet_xlsx
from tests.support.batch_files import CATALOGUE, GOOD, SAMPLES, read, row, write_csv
from tests.support.skips import need_tool
from tests.support.workspaces import federation, receipts

pytestmark = pytest.mark.usefixtures("in_tmp_path")


def write_xlsx(rows: list[list[Any]], name: str = "batch.xlsx", title: str = "Sheet1") -> Path:
    """A workbook of one sheet holding ``rows`` (row 1 first) as openpyxl types them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title
    for values in rows:
        sheet.append(values)
    book.save(name)
    return Path(name)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def as_xlsx(rows: list[dict[str, str]], name: str = "batch.xlsx") -> Path:
    return write_xlsx([list(COLUMNS), *[[r[c] or None for c in COLUMNS] for r in rows]], name)


def test_good_sample_as_xlsx_asks_for_the_same_receipts() -> None:
    path = write_xlsx(csv_rows(SAMPLES / "good.csv"))
    want, want_problems = read_batch(SAMPLES / "good.csv", CATALOGUE)
    got, problems = read_batch(path, CATALOGUE)
    assert (problems, want_problems) == ([], [])
    assert [(e.line, e.request, e.item_lines) for e in got] == [
        (e.line, e.request, e.item_lines) for e in want
    ]


def test_row_problems_are_numbered_and_worded_as_the_csv_twin() -> None:
    rows = [row(), row(client_ref="R2", amount="12.345"), row(client_ref="R3", payer_kind="x")]
    rows.insert(1, {c: "" for c in COLUMNS})  # a blank row keeps its number
    csv_refs, csv_problems = read(write_csv(rows))
    xlsx_refs, xlsx_problems = read(as_xlsx(rows))
    assert xlsx_refs == csv_refs == ["R1"]
    assert [p.replace("batch.xlsx", "batch.csv") for p in xlsx_problems] == csv_problems
    assert xlsx_problems[0].startswith("batch.xlsx:4:9: ")


def test_number_cells_are_exact_decimals() -> None:
    header = list(COLUMNS)
    cells = {**GOOD, "amount": 2000.1, "basis": None, "period": datetime(2026, 10, 1)}
    floats = {**GOOD, "client_ref": "F", "amount": None, "basis": 100000.1, "rate": 0.02}
    bad = {**GOOD, "client_ref": "B", "amount": 2000.005}
    path = write_xlsx([header, [cells[c] or None for c in COLUMNS]])
    entries, problems = read_batch(path, CATALOGUE)
    assert problems == []
    [item] = entries[0].request.items
    assert (item.amount, item.period) == (Decimal("2000.10"), "2026-10")
    path = write_xlsx([header, [floats[c] or None for c in COLUMNS]])
    [entry], _ = read_batch(path, CATALOGUE)
    assert entry.request.items[0].amount == Decimal("2000.00")  # 100000.1 × 0.02 = 2000.002
    path = write_xlsx([header, [bad[c] or None for c in COLUMNS]])
    assert read(path) == ([], ["batch.xlsx:2:9: amount 2000.005 has a fraction of a fen"])


def test_a_date_that_is_not_a_month_is_refused_at_its_cell() -> None:
    cells = {**GOOD, "period": datetime(2026, 10, 15)}
    path = write_xlsx([list(COLUMNS), [cells[c] or None for c in COLUMNS]])
    refs, problems = read(path)
    assert refs == [] and len(problems) == 1
    assert problems[0].startswith("batch.xlsx:2:8: a date (2026-10-15")


def test_a_formula_without_a_saved_value_is_refused() -> None:
    cells: dict[str, Any] = {**GOOD, "amount": "=1000*2"}  # openpyxl saves no value
    path = write_xlsx([list(COLUMNS), [cells[c] or None for c in COLUMNS]])
    refs, problems = read(path)
    assert refs == []
    assert problems == [
        "batch.xlsx:1: cell I2 is a formula saved without its value (hidden data and formulas "
        "without a saved value are refused: open the file in Excel, show everything, save it)"
    ]


def test_hidden_rows_are_refused() -> None:
    path = as_xlsx([row(), row(client_ref="R2")])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.row_dimensions[3].hidden = True
    book.save(path)
    refs, problems = read(path)
    assert refs == [] and problems[0].startswith("batch.xlsx:1: row 3 is hidden")


def test_several_sheets_need_one_named_shou_ju() -> None:
    path = as_xlsx([row()])
    book = openpyxl.load_workbook(path)
    book.create_sheet("说明")
    book.save(path)
    refs, problems = read(path)
    assert refs == [] and "name the one to issue 收据" in problems[0]
    book.active.title = "收据"  # type: ignore[union-attr]
    book.save(path)
    assert read(path) == (["R1"], [])


def test_not_a_zip_named_xlsx_is_one_line() -> None:
    Path("batch.xlsx").write_text("client_ref,payer_name\n", encoding="utf-8")
    assert read(Path("batch.xlsx")) == (
        [],
        ["batch.xlsx:1: not an .xlsx workbook (an .xlsx file is a zip; save it from Excel)"],
    )
    Path("zip.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    refs, problems = read(Path("zip.xlsx"))
    assert refs == [] and len(problems) == 1 and "not a readable zip file" in problems[0]


def test_zip_bomb_is_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    with zipfile.ZipFile("bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(40):
                member.write(chunk)

    def no_inflating(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("inflated")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    monkeypatch.setattr(xlsx_file, "load_workbook", no_inflating)
    refs, problems = read(Path("bomb.xlsx"))
    assert refs == [] and len(problems) == 1
    assert "a compression bomb?" in problems[0]


def test_xlsx_writer_types_cells_by_column() -> None:
    hostile = '=HYPERLINK("http://example.invalid","点我")'
    columns = ("name", "amount", "count")
    with spreadsheet_xlsx(Path("out.xlsx"), columns, {"amount", "count"}, sheet="对账") as sheet:
        sheet.row([hostile, Decimal("-12.50"), 3])
        sheet.record({"name": "-12.50", "amount": "1409.50", "count": "=1+1"})
    book = openpyxl.load_workbook("out.xlsx")
    assert book.sheetnames == ["对账"]
    ws = book["对账"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    assert [c.value for c in ws[1]] == list(columns)
    assert (ws["A2"].value, ws["A2"].data_type) == (hostile, "s")
    assert (ws["B2"].value, ws["B2"].number_format) == (-12.5, "#,##0.00")
    assert (ws["C2"].value, ws["C2"].number_format) == (3, "0")
    assert (ws["A3"].value, ws["A3"].data_type) == ("-12.50", "s")
    assert ws["B3"].value == 1409.5 and (ws["C3"].value, ws["C3"].data_type) == ("=1+1", "s")
    with zipfile.ZipFile("out.xlsx") as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


def test_libreoffice_opens_the_workbook(tmp_path: Path) -> None:
    """LibreOffice (Debian's libreoffice-calc-nogui; .ci/run installs it) opens a workbook we
    wrote, headless, and reads the hostile text cell as text, not as a formula."""
    office = need_tool("soffice", "libreoffice-calc-nogui")
    path = tmp_path / "out.xlsx"
    with spreadsheet_xlsx(path, ("name", "amount"), {"amount"}, sheet="统计") as sheet:
        sheet.row(["=1+1", Decimal("1409.50")])
    out = tmp_path / "converted"
    subprocess.run(
        [office, "--headless", "--convert-to", "csv", "--outdir", str(out), str(path)],
        check=True,
        timeout=120,
        capture_output=True,
        # LibreOffice keeps a user profile; a fresh one under tmp_path, never the machine's.
        env={**os.environ, "HOME": str(tmp_path)},
    )
    rows = list(csv.reader(io.StringIO((out / "out.csv").read_text("utf-8"))))
    assert rows[0] == ["name", "amount"]
    assert rows[1][0] == "=1+1"  # text, not the formula's value 2
    assert Decimal(rows[1][1].replace(",", "")) == Decimal("1409.50")


def test_stats_and_reconcile_write_xlsx(tmp_path: Path) -> None:
    prov, home = tmp_path / "prov", tmp_path / "yinchuan"
    federation(prov, "640000")
    federation(home, "640100")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp_path / "alloc.xml"
    result = receipts(
        prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(alloc)
    )
    assert result.exit_code == 0, result.output
    assert receipts(home, "stock", "import", str(alloc)).exit_code == 0
    batch = write_xlsx(csv_rows(SAMPLES / "good.csv"), str(tmp_path / "october.xlsx"))
    result = receipts(home, "issue", "--batch", str(batch))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("issued 3 receipt(s), total 4,834.00")
    result = receipts(home, "stats", "--xlsx", str(tmp_path / "stats.xlsx"))
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(tmp_path / "stats.xlsx")["统计"]
    assert ws.freeze_panes == "A2"
    summary = [c.value for c in ws[2]]
    assert summary[:5] == ["summary", "total", "合计", 3, 4834]
    assert ws.cell(2, 5).number_format == "#,##0.00"
    result = receipts(home, "reconcile", "stock", "--xlsx", str(tmp_path / "stock.xlsx"))
    assert result.exit_code in (0, 1), result.output
    book = openpyxl.load_workbook(tmp_path / "stock.xlsx")
    assert book.sheetnames == ["对账"] and book["对账"].freeze_panes == "A2"


def test_reconcile_bank_xlsx_keeps_a_hostile_payer_a_string(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    hostile = '=HYPERLINK("http://example.invalid","点我")'
    statement = tmp_path / "statement.csv"
    quoted = hostile.replace('"', '""')
    statement.write_text(
        f'date,amount,payer_name,payer_account,reference,serial\n2026-10-08,1409.50,"{quoted}",,,S1\n',
        encoding="utf-8",
    )
    out = tmp_path / "bank.xlsx"
    result = receipts(home, "reconcile", "bank", str(statement), "--xlsx", str(out))
    assert result.exit_code == 1, result.output  # an unmatched credit
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["对账"]
    ws = book["对账"]
    header = [c.value for c in ws[1]]
    assert header == ["status", "credit", "date", "amount", "payer", "receipts", "note"]
    payer, amount = ws.cell(2, 5), ws.cell(2, 4)
    assert (payer.value, payer.data_type) == (hostile, "s")
    assert (amount.value, amount.number_format) == (1409.5, "#,##0.00")
    assert ws.freeze_panes == "A2"


def test_entities_in_the_sheet_are_refused() -> None:
    path = as_xlsx([row()])
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    laughs = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>'
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = laughs + members[sheet].split(b"?>", 1)[-1]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    assert read(path) == (
        [],
        [f"batch.xlsx:1: {sheet} has a DOCTYPE (DTDs and entities are refused)"],
    )


def test_text_typed_with_a_quote_and_whole_numbers() -> None:
    path = as_xlsx([row()])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet["A2"] = 1001  # client_ref typed as a number
    sheet["F2"].quotePrefix = True  # item_code '01, as Excel stores a leading '
    book.save(path)
    [entry], problems = read_batch(path, CATALOGUE)
    assert problems == [] and entry.request.client_ref == "1001"
    assert entry.request.items[0].code == "01"


def _patch_sheet(path: Path, old: bytes, new: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert old in members[sheet]
    members[sheet] = members[sheet].replace(old, new)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)


def test_a_formula_is_read_as_its_saved_value_never_computed() -> None:
    cells: dict[str, Any] = {**GOOD, "amount": "=1000*3"}
    path = write_xlsx([list(COLUMNS), [cells[c] or None for c in COLUMNS]])
    _patch_sheet(path, b"<f>1000*3</f><v></v>", b"<f>1000*3</f><v>2000</v>")
    [entry], problems = read_batch(path, CATALOGUE)
    assert problems == [] and entry.request.items[0].amount == Decimal("2000.00")


def test_error_cells_and_hidden_sheets_are_refused() -> None:
    cells: dict[str, Any] = {**GOOD, "payer_name": "#DIV/0!"}
    path = write_xlsx([list(COLUMNS), [cells[c] or None for c in COLUMNS]])
    refs, problems = read(path)
    assert refs == [] and problems[0].startswith("batch.xlsx:1: cell B2 is an error value")
    path = as_xlsx([row()])
    book = openpyxl.load_workbook(path)
    book.active.title = "收据"  # type: ignore[union-attr]
    book.create_sheet("说明")
    book["收据"].sheet_state = "hidden"
    book.save(path)
    assert read(path) == ([], ["batch.xlsx:1: sheet 收据 is hidden; show it or remove it"])


def test_a_damaged_sheet_is_one_problem() -> None:
    path = as_xlsx([row()])
    _patch_sheet(path, b"</sheetData>", b"</sheetDat>")
    refs, problems = read(path)
    assert refs == [] and len(problems) == 1
    assert problems[0].startswith("batch.xlsx:1: not a readable .xlsx workbook: xl/worksheets/")
