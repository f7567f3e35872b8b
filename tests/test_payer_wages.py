"""Declared wage bills (docs/arrears.md): validated declarations, corrections that supersede
with a reason and keep the history, overlapping periods refused, expected amounts from the
configured rate with half-up rounding, and the audit catching a declaration row edited in SQL;
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from receipts.audit import audit
from receipts.domain.finance_rules import DEFAULT_RULES, ItemOverride, RateRange, RuleOverrides
from receipts.domain.money import compute_amount, from_fen, to_fen
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.issuing import payer_wages
from receipts.issuing.payer_register import PayerEntry, register_payer
from receipts.issuing.payer_wages import (
    WageDeclaration,
    declare_wages,
    expected_fen,
    item_rate,
    wage_history,
)
from receipts.ledger.database import Database
from receipts.ledger.models import Event
from receipts.ledger.wages_models import WageDeclarationRow
from tests.support.ledger import audit_trust
from tests.support.tier_pki import tier_pki

USCC = "91640100MA7600001J"
OTHER = "91640100MA7600005Y"
SIGNER = tier_pki().signers["640100"]
TODAY = date(2026, 12, 3)


def declaration(period: str = "2026-10", wage: str = "1250000.00", **kw: str) -> WageDeclaration:
    fields = {"uscc": USCC, "period": period, "wage": wage, "declared_on": "2026-11-05"}
    fields |= {"source": "企业申报", **kw}
    return WageDeclaration.of(**fields)


@pytest.fixture
def register(ledger_db: Database) -> Database:
    register_payer(ledger_db, PayerEntry.of(USCC, "宁夏贺兰山实业有限公司", "enterprise"), SIGNER)
    return ledger_db


def events(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


# Expected amounts: wage bill × rate, half up to the fen (hand-computed).
EXPECTED = [
    ("1250000.00", "0.02", 2_500_000),  # 25,000.00
    ("1234567.89", "0.02", 2_469_136),  # 24,691.3578 → 24,691.36
    ("100.25", "0.02", 201),  # 2.005 → 2.01 (half up; half-even would give 2.00)
    ("100.75", "0.02", 202),  # 2.015 → 2.02
    ("0.24", "0.02", 0),  # 0.0048 → 0.00
    ("0.00", "0.02", 0),
    ("333.33", "0.015", 500),  # 4.99995 → 5.00
]


@pytest.mark.parametrize(("wage", "rate", "fen"), EXPECTED)
def test_expected_amount_rounds_half_up_to_the_fen(wage: str, rate: str, fen: int) -> None:
    assert expected_fen(int(Decimal(wage) * 100), Decimal(rate)) == fen


@given(
    st.integers(min_value=0, max_value=10**15),
    st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False),
)
def test_expected_amount_is_what_a_receipt_computes(wage_fen: int, rate: Decimal) -> None:
    """Computed on fen, it equals a receipt's base × rate (yuan, half up to the fen)."""
    expected = compute_amount(from_fen(wage_fen), rate) if wage_fen * rate < 10**15 - 1 else None
    if expected is not None:
        assert expected_fen(wage_fen, rate) == to_fen(expected)


def test_the_rate_comes_from_the_rules_not_the_code() -> None:
    assert item_rate(DEFAULT_RULES, "01") == Decimal("0.02")
    with pytest.raises(InvalidInput, match=r"item 03 allows the range 0%~2%, not one rate"):
        item_rate(DEFAULT_RULES, "03")
    with pytest.raises(InvalidInput, match="item 99 allows any rate"):
        item_rate(DEFAULT_RULES, "99")
    one = RateRange(Decimal("0.01"), Decimal("0.01"))
    province = DEFAULT_RULES.overridden(RuleOverrides(items={"03": ItemOverride(rate=one)}))
    assert item_rate(province, "03") == Decimal("0.01")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("uscc", "91640100MA7600001K", "USCC"),
        ("period", "2026-13", "period '2026-13' must be"),
        ("wage", "-1.00", "negative"),
        ("wage", "12.345", "fraction of a fen"),
        ("declared_on", "2026/11/05", "declared date '2026/11/05' must be a date YYYY-MM-DD"),
        ("declared_on", "2026-02-30", "must be a date"),
        ("source", "", "source"),
    ],
)
def test_bad_fields_are_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        declaration(**{field: value})


def test_declare_correct_and_keep_history(register: Database) -> None:
    db = register
    assert declare_wages(db, [declaration(), declaration("2026-11")], SIGNER, TODAY) == (2, 0, 0)
    # The same figures again change nothing (a file imported twice).
    before = events(db)
    assert declare_wages(db, [declaration()], SIGNER, TODAY) == (0, 0, 1)
    assert events(db) == before
    # Another figure for a declared period needs a reason.
    with pytest.raises(InvalidInput, match="a correction needs a reason"):
        declare_wages(db, [declaration(wage="1300000.00")], SIGNER, TODAY)
    corrected = declaration(wage="1300000.00", reason="更正: 漏报奖金")
    assert declare_wages(db, [corrected], SIGNER, TODAY) == (0, 1, 0)
    history = wage_history(db, USCC)
    assert [(r.period, r.wage, r.current, r.reason) for r in history] == [
        ("2026-10", Decimal("1250000.00"), False, None),
        ("2026-11", Decimal("1250000.00"), True, None),
        ("2026-10", Decimal("1300000.00"), True, "更正: 漏报奖金"),
    ]
    assert history[2].supersedes == history[0].event_seq
    assert audit(db, "640100", audit_trust()).ok


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        ([("2026Q4", "1.00")], "2026Q4 overlaps 2026-10, declared for"),
        ([("2026-09~2026-10", "1.00")], "overlaps 2026-10"),
        (
            [("2026-08", "1.00"), ("2026-07~2026-08", "1.00")],
            "2026-07~2026-08 overlaps 2026-08 above",
        ),
        ([("2026-08", "1.00"), ("2026-08", "2.00")], "declared twice in this input"),
    ],
)
def test_overlapping_periods_are_refused_whole(
    register: Database, declarations: list[tuple[str, str]], message: str
) -> None:
    declare_wages(register, [declaration()], SIGNER, TODAY)
    before = events(register)
    with pytest.raises(InvalidInput, match=message):
        declare_wages(register, [declaration(p, w) for p, w in declarations], SIGNER, TODAY)
    assert events(register) == before


def test_unregistered_payers_and_future_dates_are_refused(register: Database) -> None:
    with pytest.raises(InvalidInput, match=f"payer {OTHER} is not registered"):
        declare_wages(register, [declaration(uscc=OTHER)], SIGNER, TODAY)
    with pytest.raises(
        InvalidInput, match=r"declared date 2026-12-04 is after today \(2026-12-03\)"
    ):
        declare_wages(register, [declaration(declared_on="2026-12-04")], SIGNER, TODAY)
    assert events(register) == 1


@pytest.mark.parametrize("column", ["wage_fen", "period", "source", "supersedes"])
def test_audit_catches_an_edited_declaration_row(register: Database, column: str) -> None:
    declare_wages(register, [declaration()], SIGNER, TODAY)
    declare_wages(register, [declaration(wage="1300000.00", reason="更正")], SIGNER, TODAY)
    values = {"wage_fen": 1, "period": "2026-09", "source": "伪造", "supersedes": None}
    with register.engine.begin() as conn:
        latest = conn.scalar(select(func.max(WageDeclarationRow.event_seq)))
        conn.execute(
            update(WageDeclarationRow)
            .where(WageDeclarationRow.event_seq == latest)
            .values({column: values[column]})
        )
    report = audit(register, "640100", audit_trust())
    assert [(f.code, f.message) for f in report.findings] == [
        (
            FindingCode.PAYER_MISMATCH,
            f"the wage declaration recorded by event {latest} differs from it",
        )
    ]


def test_audit_catches_a_deleted_declaration_row(register: Database) -> None:
    declare_wages(register, [declaration()], SIGNER, TODAY)
    with register.engine.begin() as conn:
        conn.execute(delete(WageDeclarationRow))
    report = audit(register, "640100", audit_trust())
    assert [f.code for f in report.findings] == [FindingCode.PAYER_MISMATCH]


def test_a_large_input_reads_the_tables_whole_with_the_same_outcome(
    register: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_IN_LIST`` payers the look-ups read whole tables instead of an IN list."""
    monkeypatch.setattr(payer_wages, "_IN_LIST", 0)
    assert declare_wages(register, [declaration()], SIGNER, TODAY) == (1, 0, 0)
    assert declare_wages(register, [declaration()], SIGNER, TODAY) == (0, 0, 1)
    with pytest.raises(InvalidInput, match=f"payer {OTHER} is not registered"):
        declare_wages(register, [declaration(uscc=OTHER)], SIGNER, TODAY)
    with pytest.raises(InvalidInput, match="2026Q4 overlaps 2026-10"):
        declare_wages(register, [declaration("2026Q4")], SIGNER, TODAY)
