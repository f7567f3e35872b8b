"""``receipts stats`` through the command line: JSON, tables, CSV for spreadsheets and the PDF
report, over the hand-worked ledger of :mod:`tests.support.stats_ledger`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from receipts.commands.stats_output import DIMENSIONS
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.stats.figures import Dimension, ledger_stats
from tests.support.skips import need_tool
from tests.support.stats_ledger import fill
from tests.support.workspaces import federation, receipts


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


def test_cli_json(city_home: Path) -> None:
    result = receipts(city_home, "--json", "stats", "--from", "2026-09", "--to", "2026-10")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["ledger"], data["from"], data["to"]) == ("640100", "2026-09", "2026-10")
    assert data["summary"] == {
        "issued_count": 5,
        "issued_amount": "4292.84",
        "reversed_count": 1,
        "reversed_amount": "50.00",
        "red_count": 1,
        "red_amount": "-50.00",
        "net_amount": "4242.84",
    }
    assert list(data["by"]) == list(DIMENSIONS)
    assert data["by"]["period"] == [
        {
            "key": "2026-09",
            "name": "",
            "issued_count": 2,
            "issued_amount": "1250.50",
            "reversed_count": 1,
            "reversed_amount": "50.00",
            "red_count": 0,
            "red_amount": "0.00",
            "net_amount": "1250.50",
        },
        {
            "key": "2026-10",
            "name": "",
            "issued_count": 3,
            "issued_amount": "3042.34",
            "reversed_count": 0,
            "reversed_amount": "0.00",
            "red_count": 1,
            "red_amount": "-50.00",
            "net_amount": "2992.34",
        },
    ]
    only = json.loads(receipts(city_home, "stats", "--json", "--by", "tier").stdout)
    assert list(only["by"]) == ["tier"]
    assert [(r["key"], r["name"], r["net_amount"]) for r in only["by"]["tier"]] == [
        ("provincial", "省级总工会", "3030.00"),
        ("city", "市、县(区)总工会", "2211.84"),
    ]


def test_cli_tables(city_home: Path) -> None:
    result = receipts(city_home, "stats", "--by", "issuer")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "ledger 640100, months of issue: all"
    assert lines[1].startswith("net = issued + red")
    assert "summary" not in lines
    assert lines[3] == "by issuer"
    rows = {line.split()[0]: line.split()[1:] for line in lines[6:]}
    assert rows["640100"] == [
        "银川市总工会(本级)",
        "3",
        "2,249.50",
        "1",
        "50.00",
        "1",
        "-50.00",
        "2,199.50",
    ]
    assert rows["total"] == ["6", "5,291.84", "1", "50.00", "1", "-50.00", "5,241.84"]
    everything = receipts(city_home, "stats").stdout
    assert "summary" in everything.splitlines()
    for dimension in DIMENSIONS:
        assert f"by {dimension}" in everything.splitlines()


def test_cli_bad_month_is_a_usage_error(city_home: Path) -> None:
    result = receipts(city_home, "stats", "--from", "2026/09")
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --from '2026/09' must be a month YYYY-MM\n",
    )


def test_cli_csv_opens_in_spreadsheets(city_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "stats.csv"
    result = receipts(city_home, "stats", "--csv", str(target), "--by", "issuer", "--by", "item")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"wrote {target}\n")
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    assert rows[0] == [
        "breakdown",
        "key",
        "name",
        "issued_count",
        "issued_amount",
        "reversed_count",
        "reversed_amount",
        "red_count",
        "red_amount",
        "net_amount",
    ]
    assert rows[1] == [
        "summary",
        "total",
        "合计",
        "6",
        "5291.84",
        "1",
        "50.00",
        "1",
        "-50.00",
        "5241.84",
    ]
    zero = ["0", "0.00", "0", "0.00"]
    assert rows[2:] == [
        ["issuer", "640000", "宁夏回族自治区总工会", "2", "3030.00", *zero, "3030.00"],
        [
            "issuer",
            "640100",
            "银川市总工会(本级)",
            "3",
            "2249.50",
            "1",
            "50.00",
            "1",
            "-50.00",
            "2199.50",
        ],
        ["issuer", "640104", "银川市兴庆区总工会", "1", "12.34", *zero, "12.34"],
        ["item", "01", "工会经费(拨缴)", "4", "5029.00", *zero, "5029.00"],
        ["item", "02", "会员会费", "3", "262.84", "1", "50.00", "1", "-50.00", "212.84"],
    ]
    assert raw.count(b"\r\n") == len(rows)


def _run(name: str, pdf: Path, *args: str) -> str:
    done = subprocess.run(
        [
            need_tool(name, "poppler-utils"),
            *args,
            str(pdf),
            *(["-"] if name == "pdftotext" else []),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_cli_pdf_report(city_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "stats.pdf"
    result = receipts(city_home, "--json", "stats", "--pdf", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["net_amount"] == "5241.84"  # JSON stays clean
    assert target.read_bytes().startswith(b"%PDF-")
    text = _run("pdftotext", target, "-enc", "UTF-8")
    for label in (
        "工会经费收入统计",
        "银川市总工会(本级)",
        "统计口径",
        "按层级",
        "按收款单位",
        "按月份",
        "按项目",
        "按交款人类型",
        "按状态",
        "净额",
        "红字",
        "已冲红",
        "宁夏回族自治区总工会",
        "银川市兴庆区总工会",
        "工会经费(拨缴)",
        "会员会费",
        "基层工会",
        "市、县(区)总工会",
        "开具金额(元)",
        "合计",
    ):
        assert label in text, label
    for number in ("5,291.84", "5,241.84", "-50.00", "2,199.50", "3,042.34", "2026-08"):
        assert number in text, number
    fonts = _run("pdffonts", target).splitlines()[2:]
    assert fonts, "pdffonts lists no font"
    for line in fonts:
        assert line.split()[-5] == "yes", f"not embedded: {line}"
        assert line.split()[0].endswith("+WenQuanYiZenHei"), line


def test_pdf_is_the_same_for_the_same_figures(city_home: Path) -> None:
    from receipts.stats.report_pdf import render_stats_pdf

    db = Database(default_url(city_home))
    stats = ledger_stats(db)
    db.dispose()
    assert render_stats_pdf(stats, title="银川") == render_stats_pdf(stats, title="银川")


def test_pdf_refuses_a_name_its_font_cannot_print(ledger_db: Database) -> None:
    from receipts.render.errors import FontCoverageError
    from receipts.stats.report_pdf import render_stats_pdf

    fill(ledger_db)
    stats = ledger_stats(ledger_db, by=[Dimension.ISSUER])
    with pytest.raises(FontCoverageError) as caught:
        render_stats_pdf(stats, title="银川𠀀")
    assert "U+20000" in str(caught.value)


def test_importing_the_command_and_the_report_loads_no_heavy_library() -> None:
    code = (
        "import sys, receipts.commands.stats_output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'reportlab', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
