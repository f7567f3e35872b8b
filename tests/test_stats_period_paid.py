"""Statistics by 所属期 (``receipts stats --by period-paid``), beside the month of issue, over a
small ledger whose figures are worked out by hand below."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from receipts.stats.figures import Dimension, Figures, ledger_stats
from tests.support.workspaces import federation, receipts

CODE = "64710126"
ENT, UNION = "enterprise", "grassroots_union"
# (number, month of issue, kind, payer kind, [(item, 所属期, fen), ...], original)
# R2 (a half-year range) is reversed by the red R3 in December; R1 has lines of two periods.
LEDGER = [
    (1, "2026-11", "normal", ENT, [("01", "2026Q3", 60000), ("02", "2026-10", 500)], None),
    (2, "2026-11", "normal", ENT, [("01", "2026-01~2026-06", 120000)], None),
    (3, "2026-12", "reversal", ENT, [("01", "2026-01~2026-06", -120000)], 2),
    (4, "2026-12", "normal", UNION, [("01", "2025", 24000)], None),
    (5, "2026-12", "normal", ENT, [("01", "2026-10", 1000)], None),
]


def fill(db: Database) -> None:
    rows, items = [], []
    for number, month, kind, payer_kind, lines, original in LEDGER:
        rows.append(
            {
                "code": CODE,
                "number": number,
                "digest": f"{number:064d}",
                "issuer": "640100",
                "kind": kind,
                "issued_at": datetime(2026, int(month[5:]), 15, 2, tzinfo=UTC),
                "period": month,
                "check_code": "abc123",
                "payer_name": f"交款人{number}",
                "payer_kind": payer_kind,
                "payer_id": None,
                "total_fen": sum(fen for _, _, fen in lines),
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
            for n, (item, period, fen) in enumerate(lines, 1)
        ]
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), rows)
        conn.execute(insert(ReceiptItemRow), items)


Pair = tuple[int, int]


def fig(issued: Pair, rev: Pair = (0, 0), red: Pair = (0, 0)) -> Figures:
    """Figures from (count, fen) pairs."""
    yuan = [Decimal(f) / 100 for f in (issued[1], rev[1], red[1])]
    return Figures(issued[0], yuan[0], rev[0], yuan[1], red[0], yuan[2])


def test_by_period_paid_in_order_with_names(ledger_db: Database) -> None:
    fill(ledger_db)
    stats = ledger_stats(ledger_db, by=[Dimension.PERIOD_PAID, Dimension.PERIOD])
    rows = stats.breakdown(Dimension.PERIOD_PAID).rows
    assert [(r.key, r.name, r.figures) for r in rows] == [
        ("2025", "2025年度", fig((1, 24000))),
        ("2026-01~2026-06", "2026年1月至2026年6月", fig((1, 120000), (1, 120000), (1, -120000))),
        ("2026Q3", "2026年第3季度", fig((1, 60000))),
        ("2026-10", "2026年10月", fig((2, 1500))),
    ]
    # The amounts add up to the summary, which the month of issue groups otherwise.
    assert sum(r.figures.net for r in rows) == stats.summary.net == Decimal("855.00")
    by_issue = stats.breakdown(Dimension.PERIOD).rows
    assert [(r.key, r.figures.net) for r in by_issue] == [
        ("2026-11", Decimal("1805.00")),
        ("2026-12", Decimal("-950.00")),
    ]


def test_from_to_filter_the_month_of_issue_not_the_period_paid(ledger_db: Database) -> None:
    fill(ledger_db)
    december = ledger_stats(ledger_db, period_from="2026-12", by=[Dimension.PERIOD_PAID])
    rows = {r.key: r.figures for r in december.breakdown(Dimension.PERIOD_PAID).rows}
    assert rows == {
        "2025": fig((1, 24000)),
        "2026-01~2026-06": fig((0, 0), (0, 0), (1, -120000)),
        "2026-10": fig((1, 1000)),
    }


@pytest.fixture
def city_home(tmp_path: Path) -> Path:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    db = Database(default_url(home))
    initialise(db, "640100")
    fill(db)
    db.dispose()
    return home


def test_cli_by_period_paid(city_home: Path, tmp_path: Path) -> None:
    result = receipts(city_home, "--json", "stats", "--by", "period-paid")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["by"]) == ["period-paid"]
    assert [(r["key"], r["net_amount"]) for r in data["by"]["period-paid"]] == [
        ("2025", "240.00"),
        ("2026-01~2026-06", "0.00"),
        ("2026Q3", "600.00"),
        ("2026-10", "15.00"),
    ]
    table = receipts(city_home, "stats", "--by", "period-paid").stdout
    assert "by period-paid" in table.splitlines()
    assert "2026年第3季度" in table and "所属期" in table
    everything = receipts(city_home, "stats").stdout.splitlines()
    assert "by period" in everything and "by period-paid" in everything
    target = tmp_path / "stats.csv"
    assert receipts(city_home, "stats", "--by", "period-paid", "--csv", str(target)).exit_code == 0
    lines = target.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[2].startswith("period-paid,2025,2025年度,1,240.00,")


def test_pdf_report_has_the_period_paid_breakdown(city_home: Path) -> None:
    from receipts.stats.report_pdf import BREAKDOWN_TITLES, render_stats_pdf

    assert BREAKDOWN_TITLES[Dimension.PERIOD_PAID] == "按所属期"
    db = Database(default_url(city_home))
    stats = ledger_stats(db, by=[Dimension.PERIOD_PAID])
    db.dispose()
    assert render_stats_pdf(stats, title="银川").startswith(b"%PDF")


def test_cli_unknown_breakdown_is_a_usage_error(city_home: Path) -> None:
    result = receipts(city_home, "stats", "--by", "所属期")
    assert result.exit_code == 2
    assert "period-paid" in result.output
