"""``receipts stats``: exact counts and amounts per breakdown on SQLite and PostgreSQL, the
red-receipt rule, and the JSON, CSV and PDF outputs through the CLI.

The ledger below is written row by row, and every expected figure is worked out by hand from it
(in fen), not from the code's output.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from receipts.commands.stats_cmds import DIMENSIONS
from receipts.domain.catalogue import Catalogue
from receipts.domain.model import Item
from receipts.errors import InvalidInput
from receipts.issuing.issue import issue, reverse
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.ledger.models import OrganisationRow, ReceiptItemRow, ReceiptRow
from receipts.stats.figures import Dimension, Figures, LedgerStats, ledger_stats
from tests.conftest import in_ci
from tests.ledger_helpers import make_issuer, request, stock_city
from tests.workspaces import federation, receipts

CODE = "64710126"

# (number, issuer, kind, period, payer kind, payer, [(item, fen), ...], original number)
# R2 (September) is reversed by the red R4 (October): the red counts in October.
# R5 has two lines of item 01 (one receipt under 01). R6 is in August, outside --from 2026-09.
ENT, UNION = "enterprise", "grassroots_union"
LEDGER = [
    (1, "640100", "normal", "2026-09", ENT, "甲公司", [("01", 100000), ("02", 20050)], None),
    (2, "640100", "normal", "2026-09", UNION, "乙工会", [("02", 5000)], None),
    (501, "640000", "normal", "2026-10", ENT, "丙公司", [("01", 300000)], None),
    (3, "640100", "reversal", "2026-10", UNION, "乙工会", [("02", -5000)], 2),
    (502, "640000", "normal", "2026-10", UNION, "丁工会", [("01", 1000), ("01", 2000)], None),
    (4, "640100", "normal", "2026-08", ENT, "戊公司", [("01", 99900)], None),
    (9001, "640104", "normal", "2026-10", ENT, "己公司", [("02", 1234)], None),
]


def fill(db: Database) -> None:
    """Write :data:`LEDGER` (and 银川's registry entry, under a name of its own) into ``db``."""
    rows, items = [], []
    for number, issuer, kind, period, payer_kind, payer, lines, original in LEDGER:
        rows.append(
            {
                "code": CODE,
                "number": number,
                "digest": f"{number:064d}",
                "issuer": issuer,
                "kind": kind,
                "issued_at": datetime(2026, int(period[5:]), 15, 2, tzinfo=UTC),
                "period": period,
                "check_code": "abc123",
                "payer_name": payer,
                "payer_kind": payer_kind,
                "payer_id": None,
                "total_fen": sum(fen for _, fen in lines),
                "original_code": CODE if original else None,
                "original_number": original,
                "xml": b"<receipt/>",
            }
        )
        items += [
            {
                "code": CODE,
                "number": number,
                "line": n,
                "item_code": item,
                "item_period": period,
                "amount_fen": fen,
            }
            for n, (item, fen) in enumerate(lines, 1)
        ]
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), rows)
        conn.execute(insert(ReceiptItemRow), items)
        conn.execute(
            insert(OrganisationRow),
            [{"code": "640100", "name": "银川市总工会(本级)", "tier": "city", "parent": "640000"}],
        )


def fig(
    issued: tuple[int, int], rev: tuple[int, int] = (0, 0), red: tuple[int, int] = (0, 0)
) -> Figures:
    """Figures from (count, fen) pairs."""
    yuan = [Decimal(fen) / 100 for fen in (issued[1], rev[1], red[1])]
    return Figures(issued[0], yuan[0], rev[0], yuan[1], red[0], yuan[2])


def table(stats: LedgerStats, dimension: Dimension) -> dict[str, Figures]:
    return {row.key: row.figures for row in stats.breakdown(dimension).rows}


def test_every_breakdown_of_the_whole_ledger(ledger_db: Database) -> None:
    fill(ledger_db)
    stats = ledger_stats(ledger_db)
    assert stats.ledger == "640100"
    # issued: 120050 + 5000 + 300000 + 3000 + 99900 + 1234; R2 reversed by the red R4.
    assert stats.summary == fig((6, 529184), (1, 5000), (1, -5000))
    assert stats.summary.net == Decimal("5241.84")
    assert table(stats, Dimension.TIER) == {
        "provincial": fig((2, 303000)),
        "city": fig((4, 226184), (1, 5000), (1, -5000)),
    }
    assert [r.key for r in stats.breakdown(Dimension.TIER).rows] == ["provincial", "city"]
    assert table(stats, Dimension.ISSUER) == {
        "640000": fig((2, 303000)),
        "640100": fig((3, 224950), (1, 5000), (1, -5000)),
        "640104": fig((1, 1234)),
    }
    names = {r.key: r.name for r in stats.breakdown(Dimension.ISSUER).rows}
    # The registry's name first, else the shipped reference list.
    assert names == {
        "640000": "宁夏回族自治区总工会",
        "640100": "银川市总工会(本级)",
        "640104": "银川市兴庆区总工会",
    }
    assert table(stats, Dimension.PERIOD) == {
        "2026-08": fig((1, 99900)),
        "2026-09": fig((2, 125050), (1, 5000)),  # R2 issued here, reversed later
        "2026-10": fig((3, 304234), red=(1, -5000)),  # the red receipt counts in its own month
    }
    assert table(stats, Dimension.ITEM) == {
        "01": fig((4, 502900)),  # R5's two lines of 01: one receipt
        "02": fig((3, 26284), (1, 5000), (1, -5000)),
    }
    assert {r.key: r.name for r in stats.breakdown(Dimension.ITEM).rows} == {
        "01": "工会经费(拨缴)",
        "02": "会员会费",
    }
    assert table(stats, Dimension.PAYER_KIND) == {
        "enterprise": fig((4, 521184)),
        "grassroots_union": fig((2, 8000), (1, 5000), (1, -5000)),
    }
    assert table(stats, Dimension.STATUS) == {
        "issued": fig((5, 524184)),
        "reversed": fig((1, 5000), (1, 5000)),
        "red": fig((0, 0), red=(1, -5000)),
    }
    assert [r.name for r in stats.breakdown(Dimension.STATUS).rows] == [
        "正常",
        "已冲红",
        "红字收据",
    ]


def test_rows_of_every_breakdown_add_up_to_the_summary(ledger_db: Database) -> None:
    fill(ledger_db)
    stats = ledger_stats(ledger_db)
    for breakdown in stats.breakdowns:
        rows = [r.figures for r in breakdown.rows]
        for field in ("issued", "reversed", "red", "net"):
            assert sum(getattr(f, field) for f in rows) == getattr(stats.summary, field)
        if breakdown.dimension is not Dimension.ITEM:
            for field in ("issued_count", "reversed_count", "red_count"):
                assert sum(getattr(f, field) for f in rows) == getattr(stats.summary, field)
    # Over the whole ledger, what was issued less what was reversed is the net.
    assert stats.summary.net == stats.summary.issued - stats.summary.reversed


def test_months_filter_on_the_month_of_issue(ledger_db: Database) -> None:
    fill(ledger_db)
    autumn = ledger_stats(ledger_db, period_from="2026-09", period_to="2026-10")
    assert autumn.summary == fig((5, 429284), (1, 5000), (1, -5000))
    october = ledger_stats(ledger_db, period_from="2026-10", by=[Dimension.STATUS])
    # R2's September amount is outside; its October red receipt is inside.
    assert october.summary == fig((3, 304234), red=(1, -5000))
    assert october.summary.net == Decimal("2992.34")
    assert [b.dimension for b in october.breakdowns] == [Dimension.STATUS]
    assert table(october, Dimension.STATUS) == {
        "issued": fig((3, 304234)),
        "red": fig((0, 0), red=(1, -5000)),
    }
    empty = ledger_stats(ledger_db, period_to="2026-07")
    assert empty.summary == fig((0, 0))
    assert all(not b.rows for b in empty.breakdowns)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period_from": "2026-13"}, "--from '2026-13' must be a month YYYY-MM"),
        ({"period_to": "2026-1"}, "--to '2026-1' must be a month YYYY-MM"),
        (
            {"period_from": "2026-10", "period_to": "2026-09"},
            "--from 2026-10 is after --to 2026-09",
        ),
    ],
)
def test_bad_months_are_refused(ledger_db: Database, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ledger_stats(ledger_db, **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_a_workspace_catalogue_names_its_own_items(ledger_db: Database) -> None:
    fill(ledger_db)
    stats = ledger_stats(
        ledger_db, by=[Dimension.ITEM], catalogue=Catalogue({"01": "工会经费(拨缴)"})
    )
    assert [r.name for r in stats.breakdown(Dimension.ITEM).rows] == ["工会经费(拨缴)", "会员会费"]


def test_issued_and_reversed_through_the_ledger(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    first = issue(ledger_db, issuer, request(amount="2000.00"))
    issue(ledger_db, issuer, request(amount="0.50", payer="某基层工会"))
    # An item of 银川's own catalogue, unknown to the catalogue the statistics are run with.
    own = dataclasses.replace(issuer, catalogue=Catalogue({"0501": "困难职工帮扶款"}))
    item = Item("0501", "困难职工帮扶款", "2026-10", Decimal("10.00"))
    issue(ledger_db, own, request(items=(item,)))
    reverse(ledger_db, issuer, first.ref, "重复开具", "张晓梅", "李建国")
    stats = ledger_stats(ledger_db)
    assert stats.summary == fig((3, 201050), (1, 200000), (1, -200000))
    assert stats.summary.net == Decimal("10.50")
    assert table(stats, Dimension.ITEM) == {
        "01": fig((2, 200050), (1, 200000), (1, -200000)),
        "0501": fig((1, 1000)),
    }
    names = [r.name for r in stats.breakdown(Dimension.ITEM).rows]
    assert names == ["工会经费(拨缴)", "困难职工帮扶款"]  # the second read from the signed XML
    assert table(stats, Dimension.TIER) == {"city": stats.summary}


def test_dimensions_of_the_cli_are_those_of_the_statistics() -> None:
    assert tuple(d.value for d in Dimension) == DIMENSIONS


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def city_home(tmp_path: Path) -> Path:
    """银川's workspace whose SQLite ledger holds :data:`LEDGER`."""
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


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: poppler-utils)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(name: str, pdf: Path, *args: str) -> str:
    done = subprocess.run(
        [_tool(name), *args, str(pdf), *(["-"] if name == "pdftotext" else [])],
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
        "import sys, receipts.commands.stats_cmds\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'reportlab', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
