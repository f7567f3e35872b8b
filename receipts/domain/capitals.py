"""Amounts in Chinese financial capitals (大写金额).

The rules are 会计基础工作规范 art. 52 and the examples of 支付结算办法 (附一). Where they leave a
choice, :func:`to_capitals` writes one fixed convention:

* every digit carries its unit, so a leading 壹 is written before 拾 (壹拾元, 壹拾万);
* one 零 for every run of zeros standing between non-zero digits, including runs that cross
  万/亿 (壹拾万零柒仟) or the 元 position (壹仟陆佰捌拾元零叁角贰分), and the 零 required after
  元 when 角 is zero and 分 is not (叁佰贰拾伍元零肆分);
* 整 after 元 or 角, nothing after 分; below one yuan no 零元 is written (伍分); 零元整 is zero;
* amounts of 10^12 and more use 万亿: the 亿 group holds up to eight digits (玖万玖仟…亿);
* a reversal (negative amount) is prefixed with 负.

:func:`parse_capitals` reads that convention and the shorter textbook forms: 零 may be left out
where 附一 (三) allows it (the 万 or 元 digit is zero and the 千 or 角 digit is not), 拾 may open
the amount without 壹, 圆 stands for 元 and 正 for 整, and 整 may be omitted after 角 (附一 allows
it; art. 52 does not, so we still write it). The rules require 整 after 元, 零 before a lone 分
after a yuan part and no 整 after 分: those are refused, as is every 零 that stands for no zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import pairwise

from receipts.domain.money import MAX_AMOUNT, parse_amount
from receipts.errors import InvalidAmount

__all__ = ["parse_capitals", "to_capitals"]

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = {"拾": 1, "佰": 2, "仟": 3}
_FRACTION_UNITS = {"角": -1, "分": -2}
_ALIASES = {"圆": "元", "正": "整"}
#: Where a zero run may end without 零 (附一 (三)): on a 仟 just below 万 or 亿, or on 角.
_ZERO_OPTIONAL_BEFORE = frozenset({7, 3, -1})
_ZERO = "零元整"


def to_capitals(amount: Decimal) -> str:
    """Write ``amount`` (yuan, whole fen, within ±MAX_AMOUNT) in financial capitals.

    ``Decimal("1680.32")`` gives ``壹仟陆佰捌拾元零叁角贰分``; see the module docstring for the
    convention. Raises :class:`InvalidAmount` for anything :func:`parse_amount` refuses.
    """
    amount = parse_amount(amount, allow_negative=True)
    fen_total = int(abs(amount) * 100)
    if fen_total == 0:
        return _ZERO
    yuan = fen_total // 100
    parts: list[str] = ["负"] if amount < 0 else []
    # A zero after some non-zero digit owes one 零, paid before the next non-zero digit; the
    # debt survives 万, 亿 and 元, so one run of zeros yields one 零 wherever it ends.
    started = owed_zero = False
    for exp in range(12, -3, -1):  # 万亿 down to 分
        digit = fen_total // 10 ** (exp + 2) % 10
        if digit:
            parts.append(("零" if owed_zero else "") + _DIGITS[digit] + _unit_of(exp))
            started, owed_zero = True, False
        else:
            owed_zero = started
        # A group unit closes a group holding a non-zero digit; 亿 also closes the 万亿 digit.
        if (exp in (4, 12) and yuan // 10**exp % 10**4) or (exp == 8 and yuan // 10**8):
            parts.append("亿" if exp == 8 else "万")
        elif exp == 0 and yuan:
            parts.append("元")
    if fen_total % 10 == 0:
        parts.append("整")
    return "".join(parts)


def _unit_of(exp: int) -> str:
    """The unit a digit at power ``exp`` carries within its group (角 and 分 below 元)."""
    return "分角"[exp + 2] if exp < 0 else ("", "拾", "佰", "仟")[exp % 4]


@dataclass(frozen=True)
class _Term:
    """One non-zero digit: its value, power of ten, whether 零 was written before it, index."""

    digit: int
    exp: int
    zero_before: bool
    index: int


class _Parser:
    """Left-to-right reader; a digit's power of ten is known once its group unit is read."""

    def __init__(self, text: str, start: int) -> None:
        self.text, self.start = text, start
        self.done: list[_Term] = []  # final powers (after 亿, 元, 角, 分)
        self.upper: list[_Term] = []  # shifted by 万, awaiting 亿 or 元
        self.group: list[_Term] = []  # since the last group unit
        self.digit: tuple[int, int] | None = None  # (value, index) awaiting its unit
        self.zero_at: int | None = None  # index of a 零 awaiting its digit
        self.seen: set[str] = set()  # 万 (in the current 亿 group), 亿, 元, 角, 分, 整
        self.last = ""

    def fail(self, index: int, why: str) -> InvalidAmount:
        return InvalidAmount(f"{why} at index {index} of {self.text!r}")

    def has_yuan_digits(self) -> bool:
        return bool(self.upper or self.group or any(t.exp >= 0 for t in self.done))

    def check_no_digit(self) -> None:
        """Every digit carries a unit (art. 52), so a digit may not be followed by a digit."""
        if self.digit is not None:
            raise self.fail(self.digit[1], f"digit {_DIGITS[self.digit[0]]!r} without a unit")

    def check_no_zero(self) -> None:
        if self.zero_at is not None:
            raise self.fail(self.zero_at, "零 not followed by a digit")

    def take_digit(self, index: int, char: str, exp: int) -> _Term:
        """The digit awaiting ``char`` (a bare 拾 may open the amount: 拾元整), with its 零."""
        if self.digit is None:
            self.check_no_zero()
            if char != "拾" or index != self.start:
                raise self.fail(index, f"unit {char!r} without a digit before it")
            self.digit = (1, index)
        term = _Term(self.digit[0], exp, self.zero_at is not None, self.digit[1])
        self.digit = self.zero_at = None
        return term

    def close_group(self, index: int, char: str, shift: int) -> list[_Term]:
        """Terms ``char`` (万, 亿 or 元) closes, shifted by ``shift``; 亿 also shifts 万亿."""
        if char in self.seen or self.seen & {"元", "角"}:
            raise self.fail(index, f"unit {char!r} repeated or out of order")
        if self.digit is not None or self.zero_at is not None:
            self.group.append(self.take_digit(index, char, 0))
        terms = [replace(t, exp=t.exp + shift) for t in self.upper + self.group]
        self.upper, self.group = [], []
        if not terms and (char != "元" or not self.done):
            raise self.fail(index, f"unit {char!r} without a digit before it")
        return terms

    def feed(self, index: int, char: str) -> None:
        char = _ALIASES.get(char, char)
        if char == "整" and "分" in self.seen:
            raise self.fail(index, "整 after 分 (art. 52)")
        if self.seen & {"分", "整"}:
            raise self.fail(index, f"unexpected {char!r} after the end of the amount")
        if char == "零":
            self.check_no_digit()
            if self.zero_at is not None:
                raise self.fail(index, "doubled 零")
            if not self.done and not self.has_yuan_digits():
                raise self.fail(index, "零 cannot open an amount (only 零元整)")
            self.zero_at = index
        elif char in _DIGITS:
            self.check_no_digit()
            self.digit = (_DIGITS.index(char), index)
        elif char in _SMALL_UNITS:
            exp = _SMALL_UNITS[char]
            if self.seen & {"元", "角"} or (self.group and self.group[-1].exp <= exp):
                raise self.fail(index, f"unit {char!r} repeated or out of order")
            self.group.append(self.take_digit(index, char, exp))
        elif char == "万":
            self.upper = self.close_group(index, char, 4)
            self.seen.add(char)
        elif char in "亿元":
            self.done += self.close_group(index, char, 8 if char == "亿" else 0)
            self.seen = (self.seen - {"万"}) | {char}
        elif char in _FRACTION_UNITS:
            exp = _FRACTION_UNITS[char]
            if self.has_yuan_digits() and "元" not in self.seen:
                raise self.fail(index, f"missing 元 before {char!r}")
            if self.done and self.done[-1].exp <= exp:
                raise self.fail(index, f"unit {char!r} repeated or out of order")
            self.done.append(self.take_digit(index, char, exp))
            self.seen.add(char)
        elif char == "整":
            self.check_no_digit()
            self.check_no_zero()
            if self.last not in ("元", "角"):
                raise self.fail(index, "整 only follows 元 or 角")
            self.seen.add(char)
        else:
            raise self.fail(index, f"unexpected character {char!r}")
        self.last = char

    def finish(self) -> list[_Term]:
        """All terms, highest power first, once the text is consumed."""
        end = len(self.text.rstrip())
        self.check_no_digit()
        self.check_no_zero()
        if not self.done and not self.has_yuan_digits():
            raise self.fail(end, "no amount")
        if self.has_yuan_digits() and "元" not in self.seen:
            raise self.fail(end, "missing 元")
        if self.last == "元":
            raise self.fail(end, "missing 整 after 元")
        return self.done


def parse_capitals(text: str) -> Decimal:
    """Read an amount written in financial capitals; the inverse of :func:`to_capitals`.

    Surrounding whitespace is ignored. Raises :class:`InvalidAmount` naming the offending
    character and its index for malformed text, and for amounts beyond MAX_AMOUNT.
    """
    body = text.strip()
    start = len(text) - len(text.lstrip())
    negative = body.startswith("负")
    if negative:
        body, start = body[1:], start + 1
    if "".join(_ALIASES.get(c, c) for c in body) == _ZERO:
        if negative:
            raise InvalidAmount(f"zero cannot be negative: {text!r}")
        return Decimal("0.00")
    parser = _Parser(text, start)
    for offset, char in enumerate(body):
        parser.feed(start + offset, char)
    terms = parser.finish()
    fen = sum(t.digit * 10 ** (t.exp + 2) for t in terms)
    if fen > MAX_AMOUNT * 100:
        raise InvalidAmount(f"{text!r} exceeds the largest amount {MAX_AMOUNT:,}")
    # Zeros are checked once every power is known: 零 must stand for a run of zero digits, and
    # may be left out only where 附一 (三) allows.
    for prev, term in pairwise(terms):
        gap = prev.exp - term.exp - 1
        if term.zero_before and gap == 0:
            raise InvalidAmount(f"零 stands for no zero before index {term.index} of {text!r}")
        if not term.zero_before and gap and term.exp not in _ZERO_OPTIONAL_BEFORE:
            raise InvalidAmount(f"missing 零 before index {term.index} of {text!r}")
    return parse_amount(Decimal(-fen if negative else fen).scaleb(-2), allow_negative=True)
