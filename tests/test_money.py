"""Money: a whole number of fen, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receipts.domain.money import (
    MAX_AMOUNT,
    _parse_general,
    compute_amount,
    format_amount,
    from_fen,
    parse_amount,
    parse_rate,
    to_fen,
)
from receipts.errors import InvalidAmount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", "12.50"),
        ("12.500", "12.50"),
        ("12.5", "12.50"),
        ("12", "12.00"),
        ("0.01", "0.01"),
        ("1,409.50", "1409.50"),
        (" 7.00 ", "7.00"),
        ("9999999999999.99", "9999999999999.99"),
    ],
)
def test_accepted_amounts(text: str, expected: str) -> None:
    amount = parse_amount(text)
    assert amount == Decimal(expected)
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12.345", "has a fraction of a fen"),
        ("0.001", "has a fraction of a fen"),
        ("NaN", "not an amount"),
        ("Infinity", "not an amount"),
        ("1e3", "not an amount"),
        ("", "not an amount"),
        ("12,34.00", "not an amount"),
        ("１２.00", "not an amount"),
        ("-5.00", "is negative"),
        ("10000000000000.00", "exceeds the largest amount"),
        # Beyond the decimal context's 28 digits once quantised to the fen (InvalidOperation).
        ("1" * 28, "exceeds the largest amount"),
        ("1" * 40 + ".5", "exceeds the largest amount"),
        (Decimal("1E+30"), "exceeds the largest amount"),
        ("-" + "9" * 30, "exceeds the largest amount"),
        (12.5, "amount must be text or Decimal, not float"),
        (True, "amount must be text or Decimal, not bool"),
        (Decimal("sNaN"), "not a finite amount"),
    ],
)
def test_refused_amounts(value: object, message: str) -> None:
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(value)  # type: ignore[arg-type]


def _written(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


_AMOUNT_TEXT = st.one_of(
    st.integers(-(10**16), 10**16).map(_written),
    st.sampled_from(["-0.00", "0.00", "00.00", "9999999999999.99", "10000000000000.00"]),
    st.from_regex(r"\A[-+ 0]?[0-9]{0,15}(\.[0-9]{0,3})?\s?\Z"),
    st.text(alphabet="-+0123456789.,e \n１", max_size=20),
)


@given(_AMOUNT_TEXT, st.booleans())
def test_fast_path_answers_as_the_general_path(text: str, allow_negative: bool) -> None:
    """The canonical texts parse_amount reads without Decimal arithmetic give the amount,
    or the refusal, that the general path gives."""
    try:
        expected: Decimal | str = _parse_general(text, allow_negative)
    except InvalidAmount as exc:
        expected = str(exc)
    try:
        found: Decimal | str = parse_amount(text, allow_negative=allow_negative)
    except InvalidAmount as exc:
        found = str(exc)
    assert str(found) == str(expected)


def test_negative_only_when_allowed() -> None:
    assert parse_amount("-20.00", allow_negative=True) == Decimal("-20.00")
    assert str(parse_amount("-0.00", allow_negative=True)) == "0.00"


@pytest.mark.parametrize(
    ("basis", "rate", "expected"),
    [
        ("100000.00", "0.02", "2000.00"),
        ("12345.67", "0.02", "246.91"),  # 246.9134 → down
        ("0.25", "0.02", "0.01"),  # 0.005 → half up
        ("0.75", "0.02", "0.02"),  # 0.015 → half up
        ("33.33", "0.005", "0.17"),  # 0.16665 → 0.17
    ],
)
def test_computed_amounts_round_half_up(basis: str, rate: str, expected: str) -> None:
    assert compute_amount(parse_amount(basis), parse_rate(rate)) == Decimal(expected)


@pytest.mark.parametrize("rate", ["-0.02", "2", "0.0000001", "abc", "1e-2"])
def test_refused_rates(rate: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_rate(rate)


def test_format() -> None:
    assert format_amount(Decimal("1409.5")) == "1409.50"
    assert format_amount(Decimal("1409.50"), grouping=True) == "1,409.50"


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_fen_round_trip(fen: int) -> None:
    amount = from_fen(fen)
    assert to_fen(amount) == fen
    assert parse_amount(format_amount(amount), allow_negative=True) == amount
    assert abs(amount) <= MAX_AMOUNT
