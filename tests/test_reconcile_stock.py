"""Stock reconciliation: every number of every segment accounted for, gaps and receipts outside
their issuer's segments reported, through the ledger and the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from receipts.errors import InvalidInput
from receipts.issuing.stock_accounting import write_off
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.reconcile.stock import OutsideSegment, reconcile_stock
from tests.support.ledger import SHANGHAI, stock_city
from tests.support.reconcile import add_receipts, row
from tests.support.workspaces import federation, receipts


def code_now() -> str:
    return f"647101{datetime.now(SHANGHAI).year % 100:02d}"


def test_segments_gaps_and_receipts_outside(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=20)
    code = code_now()
    add_receipts(
        ledger_db,
        [
            *(row(n, code=code) for n in (1, 2, 3, 5, 6)),
            row(
                7,
                code=code,
                kind="reversal",
                total_fen=-10_002,
                original_code=code,
                original_number=2,
            ),
            row(9, code=code),  # 4 and 8 are gaps
            row(500, code=code),  # beyond the segment
            row(10, "640104", code=code),  # inside a segment, but of another holder
        ],
    )
    report = reconcile_stock(ledger_db)
    [segment] = report.segments
    u = segment.usage
    assert (segment.label, segment.holder, segment.allocated_by) == (
        f"{code}:1-20",
        "640100",
        "640000",
    )
    # 640104's receipt at 10 is not the holder's: it is listed outside, and 10 stays unused
    assert (u.issued, u.reversed, u.red, u.unused, u.gaps) == (6, 1, 1, 11, (4, 8))
    assert report.outside == (
        OutsideSegment(code, 10, "640104", "normal"),
        OutsideSegment(code, 500, "640100", "normal"),
    )
    assert report.discrepancies
    assert reconcile_stock(ledger_db, holder="640104").segments == ()


def test_another_issuers_receipt_does_not_fill_a_gap(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    code = code_now()
    add_receipts(ledger_db, [row(1, code=code), row(2, "640104", code=code), row(3, code=code)])
    with pytest.raises(InvalidInput, match=r"has 1 gap\(s\): 2"):
        write_off(ledger_db, "640100", code, 1, 5, None)


def test_a_clean_ledger_has_no_discrepancies(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    add_receipts(ledger_db, [row(n, code=code_now()) for n in (1, 2, 3)])
    report = reconcile_stock(ledger_db)
    assert not report.discrepancies
    assert report.segments[0].usage.unused == 2


def test_cli_stock(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    db = Database(default_url(home))
    initialise(db, "640100")
    stock_city(db, tmp_path, count=10)
    add_receipts(db, [row(n, code=code_now()) for n in (1, 3, 11)])
    db.dispose()
    out = tmp_path / "stock.csv"
    result = receipts(home, "reconcile", "stock", "--csv", str(out))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("PROBLEMS: 1 segment(s), 1 receipt(s) outside them")
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert (
        lines[0] == "kind,subject,holder,allocated_by,status,issued,reversed,red,unused,gaps,"
        "gap_numbers"
    )
    assert lines[1] == f"gaps,{code_now()}:1-10,640100,640000,open,2,0,0,7,1,2"
    assert lines[2] == f"outside-segment,{code_now()}-0000000011,640100,,normal,,,,,,"
    data = json.loads(receipts(home, "reconcile", "stock", "--json").stdout)
    assert data["ok"] is False and [line["kind"] for line in data["lines"]] == [
        "gaps",
        "outside-segment",
    ]
