"""Financial capitals (docs/formats.md): expected strings worked out by hand from the rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receipts.domain.capitals import parse_capitals, to_capitals
from receipts.domain.money import MAX_AMOUNT
from receipts.errors import InvalidAmount

# Each row: amount, capitals in our convention. Written from the rules, never from the code.
TABLE: list[tuple[str, str]] = [
    # The spec's examples (支付结算办法 附一, our convention where it gives a choice).
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("107000.53", "壹拾万零柒仟元零伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("1000054.00", "壹佰万零伍拾肆元整"),
    ("100000.00", "壹拾万元整"),
    ("0.50", "伍角整"),
    ("0.05", "伍分"),
    ("-20.00", "负贰拾元整"),
    # Zero and amounts under one yuan: no leading 零元.
    ("0.00", "零元整"),
    ("0.55", "伍角伍分"),
    ("0.01", "壹分"),
    ("0.10", "壹角整"),
    # Small whole amounts; a leading 壹 before 拾 is always written.
    ("1.00", "壹元整"),
    ("10.00", "壹拾元整"),
    ("11.00", "壹拾壹元整"),
    ("100.00", "壹佰元整"),
    ("110.00", "壹佰壹拾元整"),
    ("1100.00", "壹仟壹佰元整"),
    ("1409.00", "壹仟肆佰零玖元整"),
    # Inner zero runs: one 零 per run.
    ("101.00", "壹佰零壹元整"),
    ("1001.00", "壹仟零壹元整"),
    ("1010.00", "壹仟零壹拾元整"),
    ("6007.00", "陆仟零柒元整"),
    # Zeros across 万 and 亿.
    ("10000.00", "壹万元整"),
    ("10001.00", "壹万零壹元整"),
    ("10010.00", "壹万零壹拾元整"),
    ("10100.00", "壹万零壹佰元整"),
    ("11000.00", "壹万壹仟元整"),
    ("100100.00", "壹拾万零壹佰元整"),
    ("1010000.00", "壹佰零壹万元整"),
    ("10000000.00", "壹仟万元整"),
    ("10000001.00", "壹仟万零壹元整"),
    ("40000040.00", "肆仟万零肆拾元整"),
    ("100000000.00", "壹亿元整"),
    ("100000001.00", "壹亿零壹元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("110000000.00", "壹亿壹仟万元整"),
    ("1000000000.00", "壹拾亿元整"),
    ("100000000000.00", "壹仟亿元整"),
    ("800000000800.00", "捌仟亿零捌佰元整"),
    ("1234567890.12", "壹拾贰亿叁仟肆佰伍拾陆万柒仟捌佰玖拾元零壹角贰分"),
    ("1010101.01", "壹佰零壹万零壹佰零壹元零壹分"),
    # 万亿 for amounts of 10^12 and more.
    ("1000000000000.00", "壹万亿元整"),
    ("5000000000000.00", "伍万亿元整"),
    ("1200000000000.00", "壹万贰仟亿元整"),
    ("1000000000001.00", "壹万亿零壹元整"),
    ("1000100000000.00", "壹万零壹亿元整"),
    ("1000000010000.00", "壹万亿零壹万元整"),
    ("9090909090909.09", "玖万零玖佰零玖亿零玖佰零玖万零玖佰零玖元零玖分"),
    ("9999999999999.99", "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    # 元 digit zero before a non-zero 角: 零 after 元.
    ("10.50", "壹拾元零伍角整"),
    ("20.20", "贰拾元零贰角整"),
    ("1000.50", "壹仟元零伍角整"),
    ("90000.90", "玖万元零玖角整"),
    # 角 zero before a non-zero 分: 零 after 元 (one 零 even when the 元 digit is zero too).
    ("2.02", "贰元零贰分"),
    ("1000.05", "壹仟元零伍分"),
    ("1009.05", "壹仟零玖元零伍分"),
    ("3000000.03", "叁佰万元零叁分"),
    ("100000000.01", "壹亿元零壹分"),
    # 整 after 元 or 角, nothing after 分.
    ("2.20", "贰元贰角整"),
    ("2.22", "贰元贰角贰分"),
    # Reversals.
    ("-0.05", "负伍分"),
    ("-1680.32", "负壹仟陆佰捌拾元零叁角贰分"),
    ("-9999999999999.99", "负玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


def test_table_is_large_and_distinct() -> None:
    assert len(TABLE) >= 40
    assert len({a for a, _ in TABLE}) == len(TABLE)
    assert len({c for _, c in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("amount", "capitals"), TABLE)
def test_to_capitals(amount: str, capitals: str) -> None:
    assert to_capitals(Decimal(amount)) == capitals


@pytest.mark.parametrize(("amount", "capitals"), TABLE)
def test_parse_capitals(amount: str, capitals: str) -> None:
    assert parse_capitals(capitals) == Decimal(amount)


def test_negative_zero_is_zero() -> None:
    assert to_capitals(Decimal("-0.00")) == "零元整"


@pytest.mark.parametrize("bad", [Decimal("0.001"), Decimal("1E+13"), Decimal("NaN"), 1.5])
def test_to_capitals_refuses_bad_amounts(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        to_capitals(bad)  # type: ignore[arg-type]


TEXTBOOK: list[tuple[str, str]] = [
    # 附一 (三): 零 may be left out when the 万 or 元 digit is zero and the 千 or 角 digit is not.
    ("壹拾万柒仟元零伍角叁分", "107000.53"),
    ("壹拾万零柒仟元伍角叁分", "107000.53"),
    ("壹拾万柒仟元伍角叁分", "107000.53"),
    ("壹仟陆佰捌拾元叁角贰分", "1680.32"),
    ("壹佰元伍角整", "100.50"),
    ("壹拾亿柒仟万元整", "1070000000.00"),
    # A bare leading 拾.
    ("拾元整", "10.00"),
    ("拾万元整", "100000.00"),
    ("拾伍万元整", "150000.00"),
    # 附一 lets 整 be left out after 角.
    ("壹仟肆佰零玖元伍角", "1409.50"),
    ("伍角", "0.50"),
    # 圆 for 元, 正 for 整.
    ("壹仟肆佰零玖圆伍角正", "1409.50"),
    ("壹佰圆正", "100.00"),
    ("零圆正", "0.00"),
    ("零元正", "0.00"),
    ("负贰拾圆正", "-20.00"),
    ("壹仟元零伍分", "1000.05"),
    # Surrounding whitespace.
    ("  壹元整\n", "1.00"),
]


@pytest.mark.parametrize(("capitals", "amount"), TEXTBOOK)
def test_parse_textbook_forms(capitals: str, amount: str) -> None:
    assert parse_capitals(capitals) == Decimal(amount)


MALFORMED: list[tuple[str, str]] = [
    ("", "no amount"),
    ("   ", "no amount"),
    ("负", "no amount"),
    ("元整", "'元' without a digit before it at index 0"),
    ("分", "'分' without a digit"),
    ("角整", "'角' without a digit"),
    ("整", "整 only follows 元 or 角 at index 0"),
    ("壹", "digit '壹' without a unit at index 0"),
    ("壹拾壹", "digit '壹' without a unit at index 2"),
    ("壹壹元整", "digit '壹' without a unit at index 0"),
    ("壹零元整", "digit '壹' without a unit"),
    ("壹元零壹", "without a unit at index 3"),
    ("壹拾元伍", "without a unit at index 3"),
    ("壹拾", "missing 元"),
    ("壹亿", "missing 元"),
    ("壹拾伍角", "missing 元 before '角' at index 3"),
    ("壹亿伍角", "missing 元 before '角'"),
    ("壹元", "missing 整 after 元"),
    ("零元", "零 cannot open"),
    ("零伍角", "零 cannot open an amount"),
    ("负零元整", "zero cannot be negative"),
    # Units out of order or doubled.
    ("伍角壹元整", "'元' repeated or out of order at index 3"),
    ("壹元壹元整", "'元' repeated or out of order at index 3"),
    ("壹佰壹仟元整", "'仟' repeated or out of order at index 3"),
    ("壹仟壹仟元整", "'仟' repeated or out of order"),
    ("拾拾元整", "'拾' repeated or out of order"),
    ("壹万壹万元整", "'万' repeated or out of order"),
    ("壹万万元整", "'万' repeated or out of order"),
    ("壹亿壹亿元整", "'亿' repeated or out of order"),
    ("壹亿万元整", "'万' without a digit before it"),
    ("壹元壹拾元整", "'拾' repeated or out of order"),
    ("伍角伍角", "'角' repeated or out of order"),
    ("伍分伍角", "unexpected '伍' after the end of the amount at index 2"),
    ("佰元整", "unit '佰' without a digit before it at index 0"),
    ("壹万拾元整", "unit '拾' without a digit before it at index 2"),
    # 整 rules.
    ("壹元伍分整", "整 after 分"),
    ("壹元整整", "unexpected '整' after the end"),
    ("壹元整壹角", "after the end"),
    ("伍角伍分伍", "after the end"),
    # 零 rules.
    ("壹仟零零伍元整", "doubled 零 at index 3"),
    ("壹元零整", "零 not followed by a digit at index 2"),
    ("壹万零元整", "零 not followed by a digit"),
    ("壹仟零佰元整", "零 not followed by a digit at index 2"),
    ("壹仟伍元整", "missing 零 before index 2"),
    ("叁佰贰拾伍元肆分", "missing 零 before index 6"),
    ("壹佰万伍拾肆元整", "missing 零 before index 3"),
    ("壹万壹亿元整", "missing 零"),
    ("壹仟零伍佰元整", "零 stands for no zero before index 3"),
    ("壹仟肆佰零玖元零伍角整", "零 stands for no zero"),
    # Foreign characters and the maximum.
    ("一元整", "unexpected character '一' at index 0"),
    ("1元整", "unexpected character '1'"),
    ("壹 元整", "unexpected character ' ' at index 1"),
    ("负负壹元整", "unexpected character '负' at index 1"),
    ("人民币壹元整", "unexpected character '人'"),
    ("  壹元整x", "after the end of the amount at index 5"),
    ("壹拾万亿元整", "exceeds the largest amount"),
    ("玖仟万亿元整", "exceeds the largest amount"),
    ("负壹拾万亿元整", "exceeds the largest amount"),
]


@pytest.mark.parametrize(("capitals", "message"), MALFORMED)
def test_parse_refuses_malformed(capitals: str, message: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_capitals(capitals)
    assert message in str(caught.value)


FEN_LIMIT = int(MAX_AMOUNT * 100)
amounts = st.integers(-FEN_LIMIT, FEN_LIMIT).map(lambda fen: Decimal(fen).scaleb(-2))


@given(amounts)
def test_round_trip(amount: Decimal) -> None:
    assert parse_capitals(to_capitals(amount)) == amount


@given(amounts)
def test_round_trip_with_variant_characters(amount: Decimal) -> None:
    text = to_capitals(amount).replace("元", "圆").replace("整", "正")
    assert parse_capitals(text) == amount


@given(amounts)
def test_output_shape(amount: Decimal) -> None:
    text = to_capitals(amount)
    assert "零零" not in text
    assert not text.endswith("分整")
    assert text == "零元整" or not text.lstrip("负").startswith("零")
    assert set(text) <= set("负零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")


@given(st.text(alphabet="负零壹贰叁伍玖拾佰仟万亿元圆角分整正 x", max_size=16))
def test_parser_fails_only_with_invalid_amount(text: str) -> None:
    try:
        amount = parse_capitals(text)
    except InvalidAmount:
        return
    assert abs(amount) <= MAX_AMOUNT
    assert parse_capitals(to_capitals(amount)) == amount
