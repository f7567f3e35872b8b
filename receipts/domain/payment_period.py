"""所属期: the period a payment is for (docs/formats.md, "所属期 and rates").

Four forms are accepted; each has one canonical text, which is what the XML, the ledger and the
statistics carry:

* a month ``2026-10``;
* a quarter ``2026Q4`` (``2026q4`` is accepted from spreadsheets and canonicalised to upper case);
* a range ``2026-01~2026-06`` of two to twelve months, first ≤ last, which may cross a year end
  (``2025-07~2026-06``); the full-width tilde ``～`` is accepted and canonicalised to ``~``; a
  range of one month (``2026-03~2026-03``) is the month ``2026-03``;
* a year ``2026``.

A month's canonical text is the ``YYYY-MM`` every earlier receipt carries, so old documents and
ledger rows keep their meaning unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from receipts.errors import InvalidInput

__all__ = [
    "MAX_PERIOD_TEXT",
    "MAX_RANGE_MONTHS",
    "PaymentPeriod",
    "add_months",
    "check_period_window",
    "parse_payment_period",
]

#: The longest range a payment period may cover.
MAX_RANGE_MONTHS = 12
#: The longest canonical text (a range ``YYYY-MM~YYYY-MM``), for storage.
MAX_PERIOD_TEXT = 15

_YEAR = r"([1-9][0-9]{3})"
_MONTH = _YEAR + r"-(0[1-9]|1[0-2])"
_MONTH_RE = re.compile(_MONTH)
_QUARTER_RE = re.compile(_YEAR + r"[Qq]([1-4])")
_RANGE_RE = re.compile(_MONTH + r"[~～]" + _MONTH)
_YEAR_RE = re.compile(_YEAR)
_FORMS = "a month (2026-10), a quarter (2026Q4), a range (2026-01~2026-06) or a year (2026)"


@dataclass(frozen=True, order=True)
class PaymentPeriod:
    """所属期: a month, a quarter, a range of months or a year; ordered by its first month."""

    first_month: date
    """Day 1 of the first month the payment is for."""
    last_month: date
    """Day 1 of the last month the payment is for (equal to ``first_month`` for a month)."""
    text: str
    """The canonical text: ``2026-10``, ``2026Q4``, ``2026-01~2026-06`` or ``2026``."""

    @property
    def months(self) -> int:
        """How many months the period covers (1 for a month, 3 for a quarter, 12 for a year)."""
        return _index(self.last_month) - _index(self.first_month) + 1

    def __str__(self) -> str:
        return self.text


def parse_payment_period(text: str, *, what: str = "payment period") -> PaymentPeriod:
    """Return the :class:`PaymentPeriod` that ``text`` names, or raise :class:`InvalidInput`.

    Surrounding spaces are ignored; anything but the four forms is refused in one line that
    begins with ``what`` (e.g. ``item period``).
    """
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text, not {type(text).__name__}")
    value = text.strip()
    if m := _MONTH_RE.fullmatch(value):
        month = date(int(m[1]), int(m[2]), 1)
        return PaymentPeriod(month, month, value)
    if m := _QUARTER_RE.fullmatch(value):
        year, quarter = int(m[1]), int(m[2])
        first = date(year, 3 * quarter - 2, 1)
        return PaymentPeriod(first, add_months(first, 2), f"{year}Q{quarter}")
    if m := _RANGE_RE.fullmatch(value):
        return _range(date(int(m[1]), int(m[2]), 1), date(int(m[3]), int(m[4]), 1), text, what)
    if m := _YEAR_RE.fullmatch(value):
        year = int(m[1])
        return PaymentPeriod(date(year, 1, 1), date(year, 12, 1), value)
    raise InvalidInput(f"{what} {text!r} must be {_FORMS}")


def check_period_window(
    period: PaymentPeriod, today: date, *, future_months: int, past_years: int
) -> None:
    """Refuse a period that ends after ``future_months`` past today's month, or begins more than
    ``past_years`` before today's month (defaults in receipts.toml: 1 and 5).

    With today 2026-12-03, ``future_months=1`` allows up to ``2027-01``; ``past_years=5`` allows
    periods beginning in ``2021-12`` or later.
    """
    if future_months < 0 or past_years < 0:
        raise ValueError("future_months and past_years must not be negative")
    this_month = today.replace(day=1)
    latest = add_months(this_month, future_months)
    if period.last_month > latest:
        raise InvalidInput(
            f"payment period {period.text} ends after {latest:%Y-%m}, "
            f"more than {future_months} month(s) after {this_month:%Y-%m}"
        )
    earliest = add_months(this_month, -12 * past_years)
    if period.first_month < earliest:
        raise InvalidInput(
            f"payment period {period.text} begins before {earliest:%Y-%m}, "
            f"more than {past_years} year(s) before {this_month:%Y-%m}"
        )


def add_months(month: date, count: int) -> date:
    """Day 1 of the month ``count`` months after ``month`` (before it when negative)."""
    index = _index(month) + count
    if not 1 * 12 <= index <= 9999 * 12 + 11:
        raise InvalidInput(f"month {month:%Y-%m} + {count} is outside the calendar")
    return date(index // 12, index % 12 + 1, 1)


def _index(month: date) -> int:
    return month.year * 12 + month.month - 1


def _range(first: date, last: date, text: str, what: str) -> PaymentPeriod:
    if last < first:
        raise InvalidInput(f"{what} {text!r}: the range ends before it begins")
    span = _index(last) - _index(first) + 1
    if span > MAX_RANGE_MONTHS:
        raise InvalidInput(
            f"{what} {text!r}: a range covers at most {MAX_RANGE_MONTHS} months, not {span}"
        )
    if span == 1:
        return PaymentPeriod(first, first, f"{first:%Y-%m}")
    return PaymentPeriod(first, last, f"{first:%Y-%m}~{last:%Y-%m}")
