"""Ledger statistics: exact counts and amounts per breakdown on SQLite and PostgreSQL, the
red-receipt rule, month filters, item names.

The ledger is :data:`tests.support.stats_ledger.LEDGER`; every expected figure is worked out by
hand from it (in fen), not from the code's output."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from receipts.commands.stats_output import DIMENSIONS
from receipts.domain.catalogue import Catalogue
from receipts.domain.model import Item
from receipts.errors import InvalidInput
from receipts.issuing.issue import issue, reverse
from receipts.ledger.database import Database
from receipts.stats.figures import Dimension, Figures, LedgerStats, ledger_stats
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.stats_ledger import fill


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
