"""Money: ``Decimal`` yuan holding a whole number of fen; never a float.

Every amount that enters the product passes through :func:`parse_amount`; the database stores
integer fen (:func:`to_fen` / :func:`from_fen`).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from receipts.errors import InvalidAmount

__all__ = [
    "FEN",
    "MAX_AMOUNT",
    "compute_amount",
    "format_amount",
    "from_fen",
    "parse_amount",
    "parse_rate",
    "to_fen",
]

FEN = Decimal("0.01")
# A rate's trailing sign and how many places it moves the decimal point.
_RATE_SIGNS = {"%": 2, "％": 2, "‰": 3}
#: The largest amount a receipt, an item or a total may carry.
MAX_AMOUNT = Decimal("9999999999999.99")
# The form receipts, exports and the ledger write amounts in: no sign but a minus, no leading
# zero, two places, at most 13 digits before the point (so never beyond MAX_AMOUNT). Such a
# text is the amount parse_amount's general path would give, with nothing to round or refuse
# but a minus where none is allowed; the fast path skips five Decimal operations a call (a
# receipt read from XML parses six or seven amounts).
_CANONICAL = re.compile(r"-?(?:0|[1-9][0-9]{0,12})\.[0-9][0-9]")
_ZERO = Decimal("0.00")


def parse_amount(value: str | int | Decimal, *, allow_negative: bool = False) -> Decimal:
    """Return ``value`` as yuan quantised to the fen, or raise :class:`InvalidAmount`.

    ``12.50`` and ``12.500`` are the same amount; ``12.345`` is refused (a fraction of a fen),
    as are floats, NaN, infinities, exponents and anything beyond :data:`MAX_AMOUNT`.
    """
    if type(value) is str and _CANONICAL.fullmatch(value) is not None:
        canonical = Decimal(value) + _ZERO  # normalises -0.00 to 0.00
        if canonical < 0 and not allow_negative:
            raise InvalidAmount(f"amount {value} is negative")
        return canonical
    return _parse_general(value, allow_negative)


def _parse_general(value: str | int | Decimal, allow_negative: bool) -> Decimal:
    """parse_amount for any input: what the fast path's texts give too (tests/test_money.py)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidAmount(f"amount must be text or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip().replace(",", "") if _has_grouping(value) else value.strip()
        if not text or not _plain_decimal(text):
            raise InvalidAmount(f"not an amount: {value!r}")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(f"not an amount: {value!r}") from None
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidAmount(f"not a finite amount: {value!r}")
    # The range first: quantising 27 digits or more to the fen exceeds the context's precision
    # (InvalidOperation, which no reader of a file expects).
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(f"amount {value} exceeds the largest amount {MAX_AMOUNT:,}")
    if amount != amount.quantize(FEN, rounding=ROUND_HALF_UP):
        raise InvalidAmount(f"amount {value} has a fraction of a fen")
    amount = amount.quantize(FEN)
    if amount < 0 and not allow_negative:
        raise InvalidAmount(f"amount {value} is negative")
    return amount + _ZERO  # normalises -0.00 to 0.00


def parse_rate(value: str | Decimal) -> Decimal:
    """Parse a rate: ``0.02``, ``2%`` (also the full-width ``2％`` of spreadsheets) or ``20‰``.

    The result is the exact decimal (``2%`` → ``0.02``, ``2‰`` → ``0.002``; the point is moved,
    nothing is divided or rounded), finite, between 0 and 1, of at most 6 places
    (docs/formats.md, "所属期 and rates").
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal):
        raise InvalidAmount(f"rate must be text or Decimal, not {type(value).__name__}")
    text = str(value).strip()
    shift = _RATE_SIGNS.get(text[-1:], 0)
    if shift:
        text = text[:-1].rstrip()
    if not _plain_decimal(text) or text[:1] in "-+":
        raise InvalidAmount(f"not a rate: {value!r}")
    rate = Decimal(text).scaleb(-shift)
    if rate > 1 or rate != rate.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP):
        raise InvalidAmount(f"rate {value} must be between 0 and 1 with at most 6 decimals")
    return rate


def compute_amount(basis: Decimal, rate: Decimal) -> Decimal:
    """basis × rate, rounded half up to the fen."""
    return parse_amount((basis * rate).quantize(FEN, rounding=ROUND_HALF_UP))


def to_fen(amount: Decimal) -> int:
    """Whole fen of an already parsed amount, for storage."""
    return int(amount.quantize(FEN) * 100)


def from_fen(fen: int) -> Decimal:
    """Yuan from stored whole fen."""
    return (Decimal(fen) / 100).quantize(FEN)


def format_amount(amount: Decimal, *, grouping: bool = False) -> str:
    """Two decimals, as in the XML and CSV (``1409.50``); ``grouping`` adds thousands commas."""
    return f"{amount:,.2f}" if grouping else f"{amount:.2f}"


def _plain_decimal(text: str) -> bool:
    """Digits with at most one point and an optional leading minus: no exponent, no spaces."""
    body = text[1:] if text[:1] in "-+" else text
    if not body or body.count(".") > 1:
        return False
    whole, _, frac = body.partition(".")
    return (whole + frac).isascii() and (whole + frac).isdigit()


def _has_grouping(text: str) -> bool:
    """Accept thousands separators only where they are well-formed (``1,409.50``)."""
    whole = text.strip().lstrip("-+").partition(".")[0]
    if "," not in whole:
        return False
    groups = whole.split(",")
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
