"""Bank reconciliation: matching credits to receipts (one-to-one, groups, ambiguity, the date
window, reversed receipts) and reading statements (GBK, BOM, bad rows, unusable files)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ClientReference
from receipts.reconcile.bank import (
    BankReceipt,
    Credit,
    UnusableStatement,
    match_bank,
    read_statement,
    reconcile_bank,
)
from tests.support.ledger import SHANGHAI
from tests.support.reconcile import CODE, add_receipts, row
from tests.support.workspaces import federation, receipts

ACME, ACME_ID = "宁夏贺兰山实业有限公司", "91640100MA7600001J"
OCT = date(2026, 10, 8)


def receipt(
    number: int,
    total: str,
    on: date = OCT,
    payer: str = ACME,
    payer_id: str | None = ACME_ID,
    **kw: Any,
) -> BankReceipt:
    return BankReceipt(CODE, number, on, Decimal(total), payer, payer_id, **kw)


def credit(
    line: int,
    amount: str,
    on: date = OCT,
    payer: str = ACME,
    account: str = "",
    reference: str = "",
) -> Credit:
    return Credit(line, on, Decimal(amount), payer, account, reference, f"S{line}")


def test_one_to_one_by_payer_and_by_reference() -> None:
    receipts_ = [
        receipt(1, "2000.00"),
        receipt(2, "500.00", payer="银川市第一中学工会", payer_id=None),
    ]
    credits = [
        credit(2, "2000.00", on=date(2026, 10, 10), payer="宁夏贺兰山实业有限公司 "),
        credit(3, "500.00", payer="某代付单位", reference=f"缴费 {CODE}-0000000002"),
    ]
    report = match_bank(receipts_, credits)
    assert [(m.credit.line, [r.number for r in m.receipts], m.basis) for m in report.matched] == [
        (2, [1], "payer"),
        (3, [2], "reference"),
    ]
    assert not report.discrepancies


def test_payer_by_uscc_and_client_reference() -> None:
    receipts_ = [receipt(1, "300.00", client_ref="2026-10/007"), receipt(2, "300.00")]
    by_ref = match_bank(receipts_, [credit(2, "300.00", payer="别名", reference="批次2026-10/007")])
    assert [(m.receipts[0].number, m.basis) for m in by_ref.matched] == [(1, "reference")]
    by_id = match_bank(receipts_[1:], [credit(2, "300.00", payer="别名", account=ACME_ID)])
    assert [m.basis for m in by_id.matched] == ["payer"]


def test_a_strong_reference_decides_between_equal_amounts() -> None:
    receipts_ = [receipt(1, "100.00"), receipt(2, "100.00")]
    report = match_bank(
        receipts_, [credit(2, "100.00", reference="0000000002"), credit(3, "100.00")]
    )
    assert [(m.credit.line, m.receipts[0].number, m.basis) for m in report.matched] == [
        (2, 2, "reference+payer"),
        (3, 1, "payer"),
    ]


def test_ambiguous_is_never_guessed() -> None:
    receipts_ = [receipt(1, "100.00"), receipt(2, "100.00", on=date(2026, 10, 9))]
    report = match_bank(receipts_, [credit(2, "100.00")])
    assert report.matched == ()
    [ambiguity] = report.ambiguous
    assert [[r.number for r in o] for o in ambiguity.options] == [[1], [2]]
    assert report.unmatched_receipts == () and report.discrepancies


def test_several_receipts_of_one_payer_to_one_credit() -> None:
    receipts_ = [
        receipt(1, "1000.00"),
        receipt(2, "250.50"),
        receipt(3, "49.50"),
        receipt(4, "300.00", payer="其他单位", payer_id=None),
    ]
    report = match_bank(receipts_, [credit(2, "1300.00")])
    [match] = report.matched
    assert ([r.number for r in match.receipts], match.basis) == ([1, 2, 3], "group")
    assert [r.number for r in report.unmatched_receipts] == [4]
    # another payer's receipt may not complete a group
    other = match_bank(receipts_, [credit(2, "1300.00", payer="其他单位")])
    assert other.matched == () and len(other.unmatched_credits) == 1
    # a group larger than --max-group is not searched for
    assert match_bank(receipts_, [credit(2, "1300.00")], max_group=2).matched == ()


def test_two_groups_adding_up_are_ambiguous() -> None:
    receipts_ = [receipt(n, amount) for n, amount in enumerate(["100.00", "200.00", "300.00"], 1)]
    report = match_bank(receipts_, [credit(2, "300.00"), credit(3, "400.00")])
    # 300 = receipt 3 alone (one-to-one wins); 400 = 100 + 300 is then impossible: unmatched
    assert [m.receipts[0].number for m in report.matched] == [3]
    report = match_bank([*receipts_[:2], receipt(4, "100.00")], [credit(2, "300.00")])
    [ambiguity] = report.ambiguous
    assert ambiguity.why == "2 groups of receipts add up to it"


def test_out_of_window_and_reversed() -> None:
    receipts_ = [
        receipt(1, "100.00", on=date(2026, 9, 20)),
        receipt(2, "80.00", reversed_by=f"{CODE}-0000000003"),
    ]
    report = match_bank(receipts_, [credit(2, "100.00"), credit(3, "80.00")], window_days=7)
    assert report.matched == ()
    assert [r.number for r in report.unmatched_receipts] == [1]
    assert [r.number for r in report.reversed] == [2]
    hints = [hint for _, hint in report.unmatched_credits]
    assert hints == ["", f"matches {CODE}-0000000002, which was reversed by {CODE}-0000000003"]
    assert match_bank(receipts_, [credit(2, "100.00")], window_days=18).matched != ()


STATEMENT = "date,amount,payer_name,payer_account,reference,serial\n"


def test_statement_gbk_with_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(
        (
            STATEMENT + f"2026-10-08,2000.00,{ACME},,,B1\n"
            "2026-13-01,1.00,甲,,,B2\n"
            "20261009,12.345,乙,,,B3\n"
            "2026/10/09,-50.00,银行手续费,,,B4\n"
            ",,,,\n"
            "2026-10-10,5.00,,,,B5,extra\n"
        ).encode("gbk")
    )
    statement = read_statement(path)
    assert [c.serial for c in statement.credits] == ["B1"]
    assert statement.credits[0].payer_name == ACME and statement.debits == 1
    assert [str(p) for p in statement.problems] == [
        f"{path}:3:1: date '2026-13-01' is not YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD",
        f"{path}:4:2: amount 12.345 has a fraction of a fen",
        f"{path}:7:7: row has 7 fields, the header 6",
        f"{path}:7:3: payer_name is required (or payer_account)",
    ]


def test_a_serial_given_twice_is_a_bad_row_not_a_second_credit(tmp_path: Path) -> None:
    """The same transaction twice (an export run twice, a copy-paste) made a match ambiguous,
    or would be a second credit: the repeat is refused at its line, the first one is used."""
    path = tmp_path / "statement.csv"
    path.write_text(
        STATEMENT
        + f"2026-10-08,2000.00,{ACME},,,S001\n"
        + "2026-10-09,30.00,乙,,,S002\n"
        + f"2026-10-08,2000.00,{ACME},,,S001\n",
        encoding="utf-8",
    )
    statement = read_statement(path)
    assert [c.serial for c in statement.credits] == ["S001", "S002"]
    assert [str(p) for p in statement.problems] == [
        f"{path}:4:6: serial S001 again (first on line 2)"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no header row"),
        (b"date,amount\n", "missing column(s): payer_name"),
        (b"date,amount,payer,\n", ":1:3: unknown column 'payer'"),
        (b"date,amount,,payer_name\n", ":1:3: unknown column ''"),
        (STATEMENT.encode(), "the file has a header but no rows"),
        (STATEMENT.encode() + b'2026-10-08,1.00,"x\n', ":2: not valid CSV"),
        (STATEMENT.encode() + b"2026-10-08,1.00,\xff\xff\xff\n", ":2:17: bytes invalid in utf-8"),
    ],
)
def test_unusable_statements(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(content)
    with pytest.raises(UnusableStatement, match=re.escape(message)):
        read_statement(path)


def test_from_the_ledger_with_bom(ledger_db: Database, tmp_path: Path) -> None:
    issued = datetime(2026, 10, 7, 20, 0, tzinfo=UTC)  # 2026-10-08 04:00 in Shanghai
    add_receipts(
        ledger_db,
        [
            row(1, issued_at=issued, total_fen=200_000),
            row(2, issued_at=issued, total_fen=8_000),
            row(
                3,
                issued_at=issued,
                total_fen=-8_000,
                kind="reversal",
                original_code=CODE,
                original_number=2,
            ),
            row(4, issued_at=issued, total_fen=30_000),
            row(5, "640104", issued_at=issued, total_fen=200_000),
        ],
    )
    with ledger_db.engine.begin() as conn:
        conn.execute(
            insert(ClientReference).values(
                issuer="640100", reference="B-4", code=CODE, number=4, request="{}"
            )
        )
    path = tmp_path / "s.csv"
    path.write_text(
        STATEMENT + f"2026-10-08,2000.00,{ACME},,,\n2026-10-09,300.00,x,,B-4,\n",
        encoding="utf-8-sig",
    )
    report = reconcile_bank(ledger_db, "640100", SHANGHAI, path)
    assert [(m.receipts[0].number, m.basis) for m in report.matched] == [
        (1, "payer"),
        (4, "reference"),
    ]
    assert [r.number for r in report.reversed] == [2] and not report.discrepancies


def test_cli_bank(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    db = Database(default_url(home))
    initialise(db, "640100")
    at = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    add_receipts(
        db, [row(1, issued_at=at, total_fen=200_000), row(2, issued_at=at, total_fen=5_000)]
    )
    db.dispose()
    path = tmp_path / "statement.csv"
    path.write_bytes(
        (STATEMENT + f"2026-10-08,2000.00,{ACME},,,B1\n2026-10-08,abc,甲,,,B2\n").encode("gbk")
    )
    out = tmp_path / "bank.csv"
    result = receipts(home, "reconcile", "bank", str(path), "--csv", str(out))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"{path}:3:2: not an amount: 'abc'\n"
    assert result.stdout.startswith("1 matched, 1 unmatched receipts, 0 unmatched credits")
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "status,credit,date,amount,payer,receipts,note"
    assert lines[1] == f"matched,B1,2026-10-08,2000.00,{ACME},{CODE}-0000000001,payer"
    assert lines[2].startswith(f"unmatched-receipt,,2026-10-08,50.00,{ACME},{CODE}-0000000002")
    as_json = json.loads(receipts(home, "--json", "reconcile", "bank", str(path)).stdout)
    assert (as_json["matched"], as_json["bad_rows"]) == (1, 1)
    path.write_text("date,amount\n", encoding="utf-8")
    unusable = receipts(home, "reconcile", "bank", str(path))
    assert unusable.exit_code == 2
    assert unusable.stderr == f"error: {path}:1: missing column(s): payer_name\n"
