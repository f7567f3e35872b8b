"""所属期: the four forms, their canonical text, the refusals and the configured window."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receipts.domain.payment_period import (
    MAX_PERIOD_TEXT,
    PaymentPeriod,
    add_months,
    check_period_window,
    parse_payment_period,
)
from receipts.errors import InvalidInput

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "canonical", "first", "last"),
    [
        ("2026-10", "2026-10", date(2026, 10, 1), date(2026, 10, 1)),
        ("2026Q4", "2026Q4", date(2026, 10, 1), date(2026, 12, 1)),
        ("2026q1", "2026Q1", date(2026, 1, 1), date(2026, 3, 1)),
        ("2026-01~2026-06", "2026-01~2026-06", date(2026, 1, 1), date(2026, 6, 1)),
        ("2025-07～2026-06", "2025-07~2026-06", date(2025, 7, 1), date(2026, 6, 1)),
        ("2026-03~2026-03", "2026-03", date(2026, 3, 1), date(2026, 3, 1)),
        ("2026-01~2026-12", "2026-01~2026-12", date(2026, 1, 1), date(2026, 12, 1)),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 1)),
        (" 2026-10 ", "2026-10", date(2026, 10, 1), date(2026, 10, 1)),
    ],
)
def test_each_form_parses_to_its_canonical_text(
    text: str, canonical: str, first: date, last: date
) -> None:
    period = parse_payment_period(text)
    assert period == PaymentPeriod(first, last, canonical)
    assert str(period) == canonical
    assert parse_payment_period(canonical) == period


# One case per rule; the id names the rule (the bad-input corpus of 所属期).
BAD = [
    pytest.param("2026-13", "must be a month (2026-10), a quarter", id="period-month-13"),
    pytest.param("2026-00", "must be a month", id="period-month-0"),
    pytest.param("2026-1", "must be a month", id="period-month-one-digit"),
    pytest.param("2026Q5", "must be a month", id="period-quarter-5"),
    pytest.param("2026Q0", "must be a month", id="period-quarter-0"),
    pytest.param("2026-Q4", "must be a month", id="period-quarter-with-dash"),
    pytest.param("Q4 2026", "must be a month", id="period-quarter-first"),
    pytest.param("2026-06~2026-01", "the range ends before it begins", id="period-range-reversed"),
    pytest.param(
        "2026-01~2027-01", "a range covers at most 12 months, not 13", id="period-range-13-months"
    ),
    pytest.param("2026-01~06", "must be a month", id="period-range-short-end"),
    pytest.param("2026-01-2026-06", "must be a month", id="period-range-dash"),
    pytest.param("0999", "must be a month", id="period-year-before-1000"),
    pytest.param("26", "must be a month", id="period-year-two-digits"),
    pytest.param("２０２６", "must be a month", id="period-full-width-digits"),
    pytest.param("2026-10-01", "must be a month", id="period-a-date"),
    pytest.param("", "must be a month", id="period-empty"),
    pytest.param("2026 10", "must be a month", id="period-space-inside"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_anything_else_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        parse_payment_period(text)
    assert "\n" not in str(caught.value)


def test_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be text"):
        parse_payment_period(202610)  # type: ignore[arg-type]


months = st.builds(lambda y, m: date(y, m, 1), st.integers(1900, 2200), st.integers(1, 12))


@given(months, st.integers(0, 11))
def test_ranges_round_trip_and_stay_short(first: date, extra: int) -> None:
    last = add_months(first, extra)
    period = parse_payment_period(f"{first:%Y-%m}~{last:%Y-%m}")
    assert (period.first_month, period.last_month) == (first, last)
    assert period.months == extra + 1
    assert len(period.text) <= MAX_PERIOD_TEXT
    assert parse_payment_period(period.text) == period


@given(months, st.integers(-2400, 2400))
def test_add_months_is_consistent(month: date, count: int) -> None:
    later = add_months(month, count)
    assert later.day == 1
    assert (later.year - month.year) * 12 + later.month - month.month == count
    assert add_months(later, -count) == month


@given(st.integers(1000, 9999), st.integers(1, 4))
def test_a_quarter_covers_its_three_months(year: int, quarter: int) -> None:
    period = parse_payment_period(f"{year}q{quarter}")
    assert period.text == f"{year}Q{quarter}"
    assert period.months == 3
    assert period.first_month.month == 3 * quarter - 2


@pytest.mark.parametrize(
    "text", ["2021-12", "2026-12", "2027-01", "2026Q4", "2026-07~2027-01", "2022"]
)
def test_window_accepts_next_month_and_five_years_back(text: str) -> None:
    check_period_window(parse_payment_period(text), TODAY, future_months=1, past_years=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("2027-02", "ends after 2027-01, more than 1 month", id="period-too-far-ahead"),
        pytest.param("2027Q1", "ends after 2027-01", id="period-quarter-ends-too-far-ahead"),
        pytest.param("2027", "ends after 2027-01", id="period-year-ahead"),
        pytest.param("2021-11", "begins before 2021-12, more than 5 year", id="period-too-old"),
        pytest.param("2021", "begins before 2021-12", id="period-year-begins-too-old"),
    ],
)
def test_window_refuses_too_far_ahead_or_too_old(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_period_window(parse_payment_period(text), TODAY, future_months=1, past_years=5)


def test_window_follows_the_configuration() -> None:
    period = parse_payment_period("2027Q1")
    check_period_window(period, TODAY, future_months=3, past_years=0)
    with pytest.raises(InvalidInput, match="begins before 2026-12"):
        check_period_window(parse_payment_period("2026-11"), TODAY, future_months=0, past_years=0)
    with pytest.raises(ValueError, match="must not be negative"):
        check_period_window(period, TODAY, future_months=-1, past_years=5)
