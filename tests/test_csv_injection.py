"""Formula injection in the CSV files the product writes (issue 14, defect 8): every text cell
that a spreadsheet would run as a formula reaches the file neutralised, as OWASP recommends; the
amounts stay numbers, negative ones included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from receipts.commands.spreadsheet import number_cell, spreadsheet_csv, text_cell
from receipts.commands.stats_output import write_csv
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.stats.figures import Breakdown, Dimension, Figures, LedgerStats, StatsRow
from tests.support.reconcile import add_receipts, row
from tests.support.workspaces import federation, receipts

CMD = "=cmd|' /C calc'!A0"
HOSTILE = [CMD, "=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def read_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


@pytest.mark.parametrize("text", HOSTILE)
def test_text_cells_with_a_formula_prefix_get_a_quote(text: str) -> None:
    assert text_cell(text) == "'" + text
    assert number_cell(text) == "'" + text  # not a numeral: text, even in a number column


def test_numbers_stay_numbers_and_plain_text_is_untouched() -> None:
    assert [number_cell(v) for v in ("-12.50", Decimal("-3.00"), -7, "0", None)] == [
        "-12.50",
        "-3.00",
        "-7",
        "0",
        "",
    ]
    assert [text_cell(v) for v in ("宁夏贺兰山实业有限公司", "a=b", None, 5)] == [
        "宁夏贺兰山实业有限公司",
        "a=b",
        "",
        "5",
    ]
    # by column, not by content: the same characters in a text column are neutralised
    assert text_cell("-12.50") == "'-12.50"


def test_embedded_quotes_are_escaped(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    with spreadsheet_csv(target, ["name", "amount"], numeric=["amount"]) as sheet:
        sheet.row(['=HYPERLINK("http://x","y")', "-1.00"])
    text = target.read_bytes()[3:].decode()
    assert text.splitlines()[1] == '"\'=HYPERLINK(""http://x"",""y"")",-1.00'
    assert read_rows(target)[1] == ['\'=HYPERLINK("http://x","y")', "-1.00"]


def test_reconcile_bank_csv_neutralises_statement_cells(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    db = Database(default_url(home))
    initialise(db, "640100")
    at = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    add_receipts(db, [row(1, issued_at=at, total_fen=200_000, payer_name=CMD)])
    db.dispose()
    statement = tmp_path / "statement.csv"
    lines = ["date,amount,payer_name,payer_account,reference,serial"]
    lines += [f'2026-10-08,12.50,"{name}",,"{name}",S{n}' for n, name in enumerate(HOSTILE)]
    statement.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "bank.csv"
    result = receipts(home, "reconcile", "bank", str(statement), "--csv", str(out))
    assert result.exit_code == 1, result.output
    rows = read_rows(out)
    header = rows[0]
    cells = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    credits = [c for c in cells if c["credit"].startswith("S")]
    # the statement reader strips the blanks around a cell; the unit tests above cover tab and CR
    assert [c["payer"] for c in credits] == ["'" + name.strip() for name in HOSTILE]
    assert all(c["amount"] == "12.50" for c in credits)
    unmatched = [c for c in cells if c["status"] == "unmatched-receipt"]
    assert [(c["payer"], c["amount"]) for c in unmatched] == [("'" + CMD, "2000.00")]
    for cell in (v for c in cells for v in c.values()):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell


def test_stats_csv_neutralises_names_and_keeps_negative_amounts(tmp_path: Path) -> None:
    figures = Figures(1, Decimal("10.00"), 0, Decimal("0.00"), 1, Decimal("-12.50"))
    rows = tuple(StatsRow(f"64010{n}", name, figures) for n, name in enumerate(HOSTILE))
    stats = LedgerStats("640100", None, None, figures, (Breakdown(Dimension.ISSUER, rows),))
    target = tmp_path / "stats.csv"
    write_csv(stats, target)
    got = read_rows(target)
    assert [r[2] for r in got[2:]] == ["'" + name for name in HOSTILE]
    assert {r[8] for r in got[1:]} == {"-12.50"} and {r[9] for r in got[1:]} == {"-2.50"}
