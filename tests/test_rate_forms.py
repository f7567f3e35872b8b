"""Rates as spreadsheets write them: ``0.02``, ``2%``, ``2％`` or ``2‰``, always an exact
Decimal, and the XML keeps the decimal form."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from receipts.domain.money import parse_rate
from receipts.domain.xmlcodec import parse_receipt_xml, receipt_to_element, serialize
from receipts.errors import InvalidAmount
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from tests.support.factories import make_item, make_receipt
from tests.support.workspaces import federation, receipts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.02", "0.02"),
        ("2%", "0.02"),
        ("2％", "0.02"),
        ("2‰", "0.002"),
        ("0.5%", "0.005"),
        ("5‰", "0.005"),
        (" 2 % ", "0.02"),
        ("100%", "1.00"),
        ("0.0001%", "0.000001"),
        ("2.5‰", "0.0025"),
    ],
)
def test_rate_forms_are_exact_decimals(text: str, expected: str) -> None:
    rate = parse_rate(text)
    assert type(rate) is Decimal
    assert str(rate) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2%%", "not a rate: '2%%'", id="rate-two-signs"),
        pytest.param("%", "not a rate: '%'", id="rate-sign-alone"),
        pytest.param("-2%", "not a rate: '-2%'", id="rate-negative-percent"),
        pytest.param("+2%", "not a rate: '+2%'", id="rate-plus-sign"),
        pytest.param("2 percent", "not a rate: '2 percent'", id="rate-word"),
        pytest.param("２%", "not a rate: '２%'", id="rate-full-width-digit"),
        pytest.param("2e0%", "not a rate: '2e0%'", id="rate-exponent-percent"),
        pytest.param("101%", "rate 101% must be between 0 and 1", id="rate-percent-over-100"),
        pytest.param("1001‰", "must be between 0 and 1", id="rate-permille-over-1000"),
        pytest.param("0.00001%", "at most 6 decimals", id="rate-percent-too-fine"),
        pytest.param("9" * 40 + "%", "must be between 0 and 1", id="rate-huge"),
        pytest.param(0.02, "rate must be text or Decimal, not float", id="rate-float"),
    ],
)
def test_bad_rates_are_refused_in_one_line(value: object, message: str) -> None:
    with pytest.raises(InvalidAmount, match=re.escape(message)) as caught:
        parse_rate(value)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


@given(st.integers(0, 1_000_000))
def test_the_three_forms_agree(millionths: int) -> None:
    decimal = Decimal(millionths).scaleb(-6)
    as_percent = Decimal(millionths).scaleb(-4)
    as_permille = Decimal(millionths).scaleb(-3)
    assert parse_rate(f"{decimal:f}") == parse_rate(f"{as_percent:f}%") == decimal
    assert parse_rate(f"{as_percent:f}％") == parse_rate(f"{as_permille:f}‰") == decimal


def test_xml_keeps_the_decimal_form() -> None:
    receipt = make_receipt(items=(make_item(rate="2%"),))
    data = serialize(receipt_to_element(receipt))
    assert b"<Rate>0.02</Rate>" in data
    assert parse_receipt_xml(data).items[0].rate == Decimal("0.02")


def test_cli_issue_takes_percent_and_permille(tmp_path: Path) -> None:
    prov, home = tmp_path / "prov", tmp_path / "yinchuan"
    federation(prov, "640000")
    federation(home, "640100")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp_path / "alloc.xml"
    allocate = ("stock", "allocate", "--to", "640100", "--count", "10", "-o", str(alloc))
    assert receipts(prov, *allocate).exit_code == 0
    assert receipts(home, "stock", "import", str(alloc)).exit_code == 0
    result = receipts(
        home,
        "--json",
        "issue",
        "--payer-name",
        "宁夏贺兰山实业有限公司",
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        "91640100MA7600001J",
        "--item",
        "01:2026Q4:100000.00*2%",
        "--item",
        "02:2026-07~2026-12:20000.00*5‰",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
    )
    assert result.exit_code == 0, result.output
    [out] = json.loads(result.stdout)
    assert out["total"] == "2100.00"
    db = Database(default_url(home))
    with db.read() as session:
        xml = session.scalars(select(ReceiptRow.xml)).one()
    db.dispose()
    assert b"<Rate>0.02</Rate>" in xml and b"<Rate>0.005</Rate>" in xml
    assert b"<Period>2026Q4</Period>" in xml and b"<Period>2026-07~2026-12</Period>" in xml
    bad = receipts(
        home,
        "issue",
        "--payer-name",
        "甲",
        "--payer-kind",
        "individual",
        "--item",
        "01:2026-10:1000.00*2 percent",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
    )
    assert (bad.exit_code, bad.output) == (2, "error: not a rate: '2 percent'\n")
