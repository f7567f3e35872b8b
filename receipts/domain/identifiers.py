"""Identifiers: receipt code and number, check code, and the USCC (统一社会信用代码)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from receipts.errors import InvalidInput

__all__ = [
    "CHECK_CODE_ALPHABET",
    "DEFAULT_CATEGORY",
    "DEFAULT_SERIES",
    "MAX_NUMBER",
    "format_number",
    "make_receipt_code",
    "new_check_code",
    "parse_check_code",
    "parse_segment",
    "validate_check_code",
    "validate_number",
    "validate_receipt_code",
    "validate_uscc",
]

DEFAULT_CATEGORY = "71"
DEFAULT_SERIES = "01"
MAX_NUMBER = 9_999_999_999
CHECK_CODE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

_RECEIPT_CODE = re.compile(r"[0-9]{8}")
_NUMBER = re.compile(r"[0-9]{10}")
_CHECK_CODE = re.compile(r"[0-9a-z]{6}")
_SEGMENT = re.compile(r"([0-9]{8}):([0-9]{1,10})-([0-9]{1,10})")
# GB 32100-2015: registration department (1-9, A, N, Y), entity category, 6-digit region,
# 9-character organisation code, check character; I, O, Z, S, V never occur.
_USCC = re.compile(r"[1-9ANY][0-9A-HJ-NP-RTUWXY][0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")


def make_receipt_code(
    province: str, issued: datetime, category: str = DEFAULT_CATEGORY, series: str = DEFAULT_SERIES
) -> str:
    """收据代码: province (2) + category (2) + series (2) + year of issue (2) (docs/formats.md).

    ``issued`` must already be in the issuer's calendar (Asia/Shanghai unless configured).
    """
    code = f"{province}{category}{series}{issued.year % 100:02d}"
    return validate_receipt_code(code)


def validate_receipt_code(code: str) -> str:
    """Return ``code`` if it is an 8-digit receipt code, else raise :class:`InvalidInput`."""
    if not isinstance(code, str) or not _RECEIPT_CODE.fullmatch(code):
        raise InvalidInput(f"receipt code {code!r} must be 8 digits")
    return code


def validate_number(number: int | str) -> int:
    """A receipt number: 1 to 9,999,999,999; as text, exactly 10 digits."""
    if isinstance(number, str):
        if not _NUMBER.fullmatch(number):
            raise InvalidInput(f"receipt number {number!r} must be 10 digits")
        number = int(number)
    if isinstance(number, bool) or not 1 <= number <= MAX_NUMBER:
        raise InvalidInput(f"receipt number {number!r} must be between 1 and {MAX_NUMBER}")
    return number


def format_number(number: int) -> str:
    """The 10-digit form printed and signed."""
    return f"{validate_number(number):010d}"


def new_check_code() -> str:
    """校验码: 6 characters from a CSPRNG, so public look-ups cannot enumerate receipts."""
    return "".join(secrets.choice(CHECK_CODE_ALPHABET) for _ in range(6))


def validate_check_code(check_code: str) -> str:
    """Return ``check_code`` if it has the form ``[0-9a-z]{6}``."""
    if not isinstance(check_code, str) or not _CHECK_CODE.fullmatch(check_code):
        raise InvalidInput(f"check code {check_code!r} must be 6 characters 0-9 or a-z")
    return check_code


def parse_check_code(text: str) -> str:
    """A check code as a person typed it, in the canonical lower case the product issues.

    Read aloud or copied from paper, ``EOTXQ2`` is the same code as ``eotxq2``; surrounding
    blanks are dropped too. Signed documents keep :func:`validate_check_code`, which accepts
    only the canonical form: a receipt with another form is not one this product issued.
    """
    # ASCII first: str.lower() folds some non-ASCII letters to ASCII ones (the Kelvin sign to
    # "k"), and a code that only looks right must not be accepted.
    if not isinstance(text, str) or not text.isascii():
        raise InvalidInput(f"check code {text!r} must be 6 characters 0-9 or a-z")
    return validate_check_code(text.strip().lower())


def parse_segment(text: str) -> tuple[str, int, int]:
    """Parse a number segment ``CODE:FIRST-LAST`` into (code, first, last)."""
    match = _SEGMENT.fullmatch(text.strip())
    if not match:
        raise InvalidInput(f"segment {text!r} must look like CODE:FIRST-LAST, e.g. 64710126:1-500")
    code, first, last = match.group(1), int(match.group(2)), int(match.group(3))
    validate_number(first)
    validate_number(last)
    if first > last:
        raise InvalidInput(f"segment {text!r}: first number is after the last")
    return code, first, last


def validate_uscc(value: str) -> str:
    """Return the USCC in compact upper-case form, or raise :class:`InvalidInput`.

    The check character is computed by python-stdnum; its ``validate`` refuses codes whose
    first character is a letter (registration departments A, N, Y), which GB 32100 allows, so
    the format is checked here and only the check character is delegated.
    """
    # python-stdnum pulls in ~20 ms of imports; only USCC checks need it.
    from stdnum.cn import uscc as stdnum_uscc
    from stdnum.exceptions import ValidationError

    if not isinstance(value, str):
        raise InvalidInput("USCC must be text")
    number = stdnum_uscc.compact(value)
    if len(number) != 18:
        raise InvalidInput(f"USCC {value!r} must have 18 characters, not {len(number)}")
    if not _USCC.fullmatch(number):
        raise InvalidInput(f"USCC {value!r} has a character not allowed by GB 32100")
    try:
        expected = stdnum_uscc.calc_check_digit(number[:17])
    except (ValidationError, ValueError):
        raise InvalidInput(f"USCC {value!r} is malformed") from None
    if number[17] != expected:
        raise InvalidInput(f"USCC {value!r} has a wrong check character (expected {expected})")
    return number
