"""Arrears (欠缴) and collection rate (收缴率) against hand-computed worked examples
(docs/arrears.md): a red receipt, a partial payment, half-up rounding of the expected amount,
an overpayment, undeclared payers, and a province's view of its cities' receipts held from
transmission; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from receipts.domain.enums import PayerKind
from receipts.domain.finance_rules import DEFAULT_RULES
from receipts.domain.model import Item, Payer, ReceiptRef
from receipts.errors import InvalidInput
from receipts.issuing.issue import issue, reverse
from receipts.issuing.payer_register import PayerEntry, register_payer
from receipts.issuing.payer_wages import WageDeclaration, declare_wages
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from receipts.stats.arrears import ArrearsRow, GroupBy, arrears_report, collection_rate
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki

A = "91640100MA7600001J"  # 宁夏贺兰山实业有限公司
B = "91640100MA7600005Y"  # 宁夏六盘山有限公司
C = "12640100MA7600009G"  # 某事业单位, never declares
SIGNER = tier_pki().signers["640100"]
TODAY = date(2026, 12, 3)
NAMES = {A: "宁夏贺兰山实业有限公司", B: "宁夏六盘山有限公司", C: "某事业单位"}
KINDS = {A: "enterprise", B: "enterprise", C: "institution"}
D = Decimal


def register(db: Database, signer: HeadSigner = SIGNER) -> None:
    for uscc, name in NAMES.items():
        register_payer(db, PayerEntry.of(uscc, name, KINDS[uscc]), signer)


def declare(db: Database, uscc: str, period: str, wage: str, signer: HeadSigner = SIGNER) -> None:
    found = WageDeclaration.of(uscc, period, wage, "2026-11-05", "企业申报")
    declare_wages(db, [found], signer, TODAY)


def pay(db: Database, uscc: str, period: str, amount: str, item: str = "01") -> ReceiptRef:
    names = {"01": "工会经费(拨缴)", "02": "会员会费"}
    payer = Payer(NAMES[uscc], PayerKind(KINDS[uscc]), uscc=uscc)
    line = Item(item, names[item], period, D(amount))
    return issue(db, make_issuer(), replace(request(), payer=payer, items=(line,))).ref


def row(
    uscc: str,
    period: str,
    wage: str | None,
    expected: str | None,
    paid: str,
    arrears: str | None,
    rate: str | None,
    issuer: str = "640100",
) -> ArrearsRow:
    def dec(value: str | None) -> Decimal | None:
        return None if value is None else D(value)

    tier = "city" if issuer != "640000" else "provincial"
    return ArrearsRow(
        uscc,
        NAMES[uscc],
        "01",
        period,
        issuer,
        tier,
        dec(wage),
        dec(expected),
        D(paid),
        dec(arrears),
        dec(rate),
    )


@pytest.fixture
def city(ledger_db: Database, tmp_path: Path) -> Database:
    """The worked example, issued for real in 银川's ledger:

    A 2026-10: wage 1,250,000.00 × 2 % = 25,000.00 expected; 25,000.00 paid, then reversed by a
    red receipt (−25,000.00), then 20,000.00 paid (partial): paid 20,000.00, arrears 5,000.00,
    80.00 %. A member-dues (02) receipt of 100.00 for 2026-10 is another item: not counted.
    A 2026-11: wage 1,234,567.89 × 2 % = 24,691.3578 → 24,691.36; paid in full: 100.00 %.
    B 2026-10: wage 100.25 × 2 % = 2.005 → 2.01 (half up); nothing paid: arrears 2.01, 0.00 %.
    C: no declaration; paid 500.00 for 2026-10: undeclared, not arrears.
    """
    stock_city(ledger_db, tmp_path, count=20)
    register(ledger_db)
    declare(ledger_db, A, "2026-10", "1250000.00")
    declare(ledger_db, A, "2026-11", "1234567.89")
    declare(ledger_db, B, "2026-10", "100.25")
    wrong = pay(ledger_db, A, "2026-10", "25000.00")
    reverse(ledger_db, make_issuer(), wrong, "金额错误", "张晓梅", "李建国")
    pay(ledger_db, A, "2026-10", "20000.00")
    pay(ledger_db, A, "2026-10", "100.00", item="02")
    pay(ledger_db, A, "2026-11", "24691.36")
    pay(ledger_db, C, "2026-10", "500.00")
    return ledger_db


def test_worked_example_rows(city: Database) -> None:
    report = arrears_report(city, DEFAULT_RULES)
    assert (report.ledger, report.item, report.rate) == ("640100", "01", D("0.02"))
    assert list(report.rows) == [
        row(C, "2026-10", None, None, "500.00", None, None),
        row(A, "2026-10", "1250000.00", "25000.00", "20000.00", "5000.00", "80.00"),
        row(A, "2026-11", "1234567.89", "24691.36", "24691.36", "0.00", "100.00"),
        row(B, "2026-10", "100.25", "2.01", "0.00", "2.01", "0.00"),
    ]
    assert [r.status for r in report.rows] == ["undeclared", "declared", "declared", "declared"]


def test_worked_example_collection_rate_by_period(city: Database) -> None:
    groups = collection_rate(arrears_report(city, DEFAULT_RULES), GroupBy.PERIOD)
    got = [
        (
            g.key,
            g.declared,
            g.expected,
            g.paid,
            g.arrears,
            g.overpaid,
            g.rate,
            g.undeclared,
            g.undeclared_paid,
        )
        for g in groups
    ]
    assert got == [
        # 20,000.00 ÷ 25,002.01 = 0.7999357… → 79.99 %
        (
            "2026-10",
            2,
            D("25002.01"),
            D("20000.00"),
            D("5002.01"),
            D("0.00"),
            D("79.99"),
            1,
            D("500.00"),
        ),
        (
            "2026-11",
            1,
            D("24691.36"),
            D("24691.36"),
            D("0.00"),
            D("0.00"),
            D("100.00"),
            0,
            D("0.00"),
        ),
        # 44,691.36 ÷ 49,693.37 = 0.8993423… → 89.93 %
        (
            "total",
            3,
            D("49693.37"),
            D("44691.36"),
            D("5002.01"),
            D("0.00"),
            D("89.93"),
            1,
            D("500.00"),
        ),
    ]


def test_an_overpayment_is_not_offset_against_anothers_arrears(city: Database) -> None:
    pay(city, A, "2026-11", "100.00")
    report = arrears_report(city, DEFAULT_RULES, period="2026-11")
    assert list(report.rows) == [
        row(C, "2026-11", None, None, "0.00", None, None),
        # 24,791.36 ÷ 24,691.36 = 1.00405… → 100.40 %
        row(A, "2026-11", "1234567.89", "24691.36", "24791.36", "-100.00", "100.40"),
        row(B, "2026-11", None, None, "0.00", None, None),
    ]
    (total,) = [g for g in collection_rate(report, GroupBy.ISSUER) if g.key == "total"]
    assert (total.arrears, total.overpaid, total.rate) == (D("0.00"), D("100.00"), D("100.40"))
    year = collection_rate(arrears_report(city, DEFAULT_RULES, period="2026"), GroupBy.TIER)
    assert [(g.key, g.arrears, g.overpaid) for g in year] == [
        ("city", D("5002.01"), D("100.00")),
        ("total", D("5002.01"), D("100.00")),
    ]


def test_a_period_without_declarations_is_undeclared_not_zero_arrears(city: Database) -> None:
    report = arrears_report(city, DEFAULT_RULES, period="2026-12")
    assert list(report.rows) == [
        row(C, "2026-12", None, None, "0.00", None, None),
        row(A, "2026-12", None, None, "0.00", None, None),
        row(B, "2026-12", None, None, "0.00", None, None),
    ]
    (total,) = collection_rate(report, GroupBy.PERIOD)[-1:]
    assert (total.declared, total.expected, total.rate, total.undeclared) == (0, D("0.00"), None, 3)


def test_filters_and_refusals(city: Database) -> None:
    quarter = arrears_report(city, DEFAULT_RULES, period="2026Q4")
    assert len(quarter.rows) == 4
    assert arrears_report(city, DEFAULT_RULES, issuer="640104").rows == ()
    with pytest.raises(InvalidInput, match="item 03 allows the range 0%~2%, not one rate"):
        arrears_report(city, DEFAULT_RULES, item="03")
    with pytest.raises(InvalidInput, match="--period '2026-13' must be"):
        arrears_report(city, DEFAULT_RULES, period="2026-13")
    with pytest.raises(InvalidInput, match="--issuer"):
        arrears_report(city, DEFAULT_RULES, issuer="64010")
    with pytest.raises(InvalidInput, match="item code '1' must be 2 to 4 digits"):
        arrears_report(city, DEFAULT_RULES, item="1")


def _held(
    db: Database,
    number: int,
    issuer: str,
    kind: str,
    uscc: str,
    lines: list[tuple[str, int]],
    original: int | None = None,
) -> None:
    """A receipt row as the province's ledger holds it (its own, or a city's from a
    transmission package: receipts.issuing.receipt_rows writes the same columns)."""
    with db.engine.begin() as conn:
        conn.execute(
            insert(ReceiptRow),
            [
                {
                    "code": "64710126",
                    "number": number,
                    "digest": f"{number:064d}",
                    "issuer": issuer,
                    "kind": kind,
                    "issued_at": datetime(2026, 11, number, 2, tzinfo=UTC),
                    "period": "2026-11",
                    "check_code": "abc123",
                    "payer_name": NAMES[uscc],
                    "payer_kind": KINDS[uscc],
                    "payer_id": uscc,
                    "total_fen": sum(fen for _, fen in lines),
                    "original_code": "64710126" if original else None,
                    "original_number": original,
                    "xml": b"<receipt/>",
                }
            ],
        )
        conn.execute(
            insert(ReceiptItemRow),
            [
                {
                    "code": "64710126",
                    "number": number,
                    "line": n,
                    "item_code": "01",
                    "item_period": period,
                    "amount_fen": fen,
                }
                for n, (period, fen) in enumerate(lines, 1)
            ],
        )


def test_a_province_sees_its_cities_receipts_by_issuer_and_tier(ledger_url: str) -> None:
    """At 宁夏 (640000): A pays 银川 (640100), a city, and B pays the province itself. A's
    receipt for 2026-10 was reversed at 银川 and issued again; a 2026Q4 payment against
    monthly declarations is listed as undeclared on its own, not split."""
    db = Database(ledger_url)
    initialise(db, "640000")
    signer = tier_pki().signers["640000"]
    register(db, signer)
    declare(db, A, "2026-10", "1000000.00", signer)  # 20,000.00 expected
    declare(db, B, "2026-10", "500000.00", signer)  # 10,000.00 expected
    _held(db, 1, "640100", "normal", A, [("2026-10", 2_000_000)])
    _held(db, 2, "640100", "reversal", A, [("2026-10", -2_000_000)], original=1)
    _held(db, 3, "640100", "normal", A, [("2026-10", 1_500_000)])
    _held(db, 4, "640000", "normal", B, [("2026-10", 1_000_000)])
    _held(db, 5, "640000", "normal", B, [("2026Q4", 300_000)])
    report = arrears_report(db, DEFAULT_RULES)
    assert list(report.rows) == [
        row(C, "", None, None, "0.00", None, None, issuer="640000"),
        row(A, "2026-10", "1000000.00", "20000.00", "15000.00", "5000.00", "75.00"),
        row(B, "2026-10", "500000.00", "10000.00", "10000.00", "0.00", "100.00", "640000"),
        row(B, "2026Q4", None, None, "3000.00", None, None, issuer="640000"),
    ]
    by_tier = collection_rate(report, GroupBy.TIER)
    assert [(g.key, g.expected, g.paid, g.rate, g.undeclared) for g in by_tier] == [
        ("provincial", D("10000.00"), D("10000.00"), D("100.00"), 2),
        ("city", D("20000.00"), D("15000.00"), D("75.00"), 0),
        # 25,000.00 ÷ 30,000.00 = 83.333… → 83.33 %
        ("total", D("30000.00"), D("25000.00"), D("83.33"), 2),
    ]
    by_issuer = collection_rate(report, GroupBy.ISSUER)
    assert [(g.key, g.rate) for g in by_issuer] == [
        ("640000", D("100.00")),
        ("640100", D("75.00")),
        ("total", D("83.33")),
    ]
    assert [r.uscc for r in arrears_report(db, DEFAULT_RULES, issuer="640100").rows] == [A]
    db.dispose()
