"""``payer arrears`` and ``payer collection-rate`` through the CLI (docs/arrears.md): as tables,
JSON, CSV and workbooks opened back with openpyxl and converted by LibreOffice, in a city and in
a province from what its cities transmitted. Wage files and the register are
tests/test_payer_wages_cli.py."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

from tests.support import payer_wages as shared
from tests.support.payer_wages import A, B, sheet_of
from tests.support.skips import need_tool
from tests.support.workspaces import federation, ok, receipts

# The city fixture, shared with the other payer CLI tests (pytest finds a fixture among a
# module's names).
city = shared.city


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
