"""Receipt codes, numbers, check codes, USCC, division codes and the tier rules."""

from __future__ import annotations

from datetime import datetime

import pytest

from receipts.domain import divisions
from receipts.domain.enums import Tier
from receipts.domain.identifiers import (
    format_number,
    make_receipt_code,
    new_check_code,
    parse_segment,
    validate_check_code,
    validate_number,
    validate_uscc,
)
from receipts.errors import InvalidInput


def test_receipt_code_parts() -> None:
    assert make_receipt_code("64", datetime(2026, 1, 1)) == "64710126"
    assert make_receipt_code("00", datetime(2030, 5, 1), "72", "02") == "00720230"


def test_numbers() -> None:
    assert format_number(1) == "0000000001"
    assert validate_number("0000000042") == 42
    for bad in (0, 10**10, "42", "00000000042", True):
        with pytest.raises(InvalidInput):
            validate_number(bad)


def test_check_codes_are_random_and_well_formed() -> None:
    codes = {new_check_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert validate_check_code(code) == code
    with pytest.raises(InvalidInput):
        validate_check_code("ABC123")


def test_segments() -> None:
    assert parse_segment("64710126:1-500") == ("64710126", 1, 500)
    for bad in ("64710126:500-1", "6471012:1-5", "64710126:0-5", "64710126 1-5"):
        with pytest.raises(InvalidInput):
            parse_segment(bad)


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341L",  # enterprise registered with SAIC
        "N1640100MA00000007",  # department N: stdnum 2.2 wrongly refuses a letter first
        "81640100MA76000076",  # department 8 = trade unions, category 1 = grassroots union
        "91640100ma7600001j",  # lower case is compacted
    ],
)
def test_valid_uscc(code: str) -> None:
    assert validate_uscc(code) == code.upper()


def test_stdnum_bug_is_real() -> None:
    # If python-stdnum fixes this, the workaround can go; the test tells us.
    from stdnum.cn import uscc

    assert not uscc.is_valid("N1640100MA00000007")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91110000600037341K", "wrong check character (expected L)"),
        ("N1640100MA00000008", "wrong check character (expected 7)"),
        ("91110000600037341", "must have 18 characters, not 17"),
        ("B1110000600037341L", "character not allowed"),  # B is no registration department
        ("9111000060003734IL", "character not allowed"),  # I never occurs
    ],
)
def test_invalid_uscc(code: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_uscc(code)


@pytest.mark.parametrize(
    ("code", "tier", "parent", "upstream"),
    [
        ("000000", Tier.NATIONAL, None, None),
        ("640000", Tier.PROVINCIAL, "000000", "000000"),
        ("640100", Tier.CITY, "640000", "640000"),
        ("640104", Tier.CITY, "640100", "640000"),
        ("120113", Tier.CITY, "120000", "120000"),  # a municipality's district
        ("429004", Tier.CITY, "420000", "420000"),  # county-level city under the province
    ],
)
def test_tiers_parents_upstreams(code: str, tier: Tier, parent: str, upstream: str) -> None:
    assert divisions.tier_of(code) == tier
    assert divisions.administrative_parent(code) == parent
    assert divisions.upstream_of(code) == upstream


@pytest.mark.parametrize("code", ["99000", "990000", "710000", "640001", "64010a", "6401000"])
def test_invalid_division_codes(code: str) -> None:
    with pytest.raises(InvalidInput):
        divisions.validate_division_code(code)


def test_reference_list_is_consistent_with_the_rules() -> None:
    feds = divisions.known_federations()
    assert feds["000000"].name == "中华全国总工会"
    assert len([f for f in feds.values() if f.tier is Tier.PROVINCIAL]) == 31
    for fed in feds.values():
        assert divisions.tier_of(fed.code) == fed.tier
        assert divisions.administrative_parent(fed.code) == fed.parent
