"""Sharing rules (分成): shares sum to the amount to the fen for every rule and amount, red receipts
mirror, a rule change applies from its date only, worked examples from docs/sharing.md, and bad
tables refused with one line each."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from receipts.domain.money import MAX_AMOUNT
from receipts.domain.sharing import (
    PARTY_ORDER,
    Party,
    PayerSituation,
    RuleVersion,
    ShareRow,
    SharingRules,
    shares_of,
    split_fen,
    supersede,
)
from receipts.domain.sharing_codec import (
    default_sharing_rules,
    rules_from_element,
    rules_from_toml,
    rules_to_element,
)
from receipts.errors import InvalidInput
from schemas import load_schema

G, CO, CI, PR, NA = PARTY_ORDER
FULL = PayerSituation.ENTERPRISE_FULL
REMITS = PayerSituation.GRASSROOTS_REMITS
TAX = PayerSituation.TAX_COLLECTED
BUDGET = PayerSituation.FINANCE_BUDGET
DAY = date(2026, 12, 3)
UNIT = 10**6  # shares have at most 6 decimals (parse_rate)


def _row(item: str, situation: PayerSituation, *millionths: int) -> ShareRow:
    shares = {p: Decimal(m) / UNIT for p, m in zip(PARTY_ORDER, millionths, strict=True)}
    return ShareRow(item, situation, shares)


def _fen(*fen: int) -> list[Decimal]:
    return [Decimal(f) / 100 for f in fen]


def _rules(*versions: tuple[date, list[ShareRow]]) -> SharingRules:
    return SharingRules(tuple(RuleVersion.of(day, rows) for day, rows in versions))


@st.composite
def _splits(draw: st.DrawFn) -> tuple[int, ...]:
    cuts = sorted(draw(st.lists(st.integers(0, UNIT), min_size=4, max_size=4)))
    edges = [0, *cuts, UNIT]
    return tuple(b - a for a, b in pairwise(edges))


_AMOUNTS = st.integers(1, int(MAX_AMOUNT * 100)).map(lambda fen: Decimal(fen) / 100)
_SITUATIONS = st.sampled_from(list(PayerSituation))


@given(split=_splits(), amount=_AMOUNTS, situation=_SITUATIONS)
def test_shares_sum_to_the_amount_for_every_rule_and_amount(
    split: tuple[int, ...], amount: Decimal, situation: PayerSituation
) -> None:
    rules = _rules((date(2020, 1, 1), [_row("01", situation, *split)]))
    shares = shares_of(amount, "01", situation, DAY, rules)
    assert list(shares) == list(PARTY_ORDER)
    assert sum(shares.values()) == amount
    assert all(s == s.quantize(Decimal("0.01")) for s in shares.values())
    for party, millionths in zip(PARTY_ORDER, split, strict=True):
        exact = Fraction(amount) * Fraction(millionths, UNIT)
        assert abs(Fraction(shares[party]) - exact) < Fraction(1, 100)
        if millionths == 0:
            assert shares[party] == 0
    red = shares_of(-amount, "01", situation, DAY, rules)
    assert red == {party: -share for party, share in shares.items()}


@given(amount=_AMOUNTS, situation=_SITUATIONS)
def test_the_default_table_shares_every_amount_exactly(
    amount: Decimal, situation: PayerSituation
) -> None:
    rules = default_sharing_rules()
    shares = shares_of(amount, "01", situation, DAY, rules)
    assert sum(shares.values()) == amount
    assert shares_of(-amount, "01", situation, DAY, rules) == {p: -s for p, s in shares.items()}


# Worked examples. Sources (docs/sharing.md, "Research"): the 2% base, Trade Union Law art. 43
# (art. 42 before the 2021 amendment); 60% to the grassroots union / 40% upward and the 60%
# returned after tax collection, the third-party page cited as [lnmlw]; the tiers' split of the
# 40% (city 70%, province 25%, national 5%) is the CONFIGURED DEFAULT, not a researched rule.
WORKED = [
    # 2% of a 500,000.00 payroll paid in full by the enterprise: [lnmlw] 60/40, default tiers.
    ("10000.00", FULL, ("6000.00", "0.00", "2800.00", "1000.00", "200.00")),
    # the grassroots union remits its 40% of 10,000.00: the receipt is 4,000.00, default tiers.
    ("4000.00", REMITS, ("0.00", "0.00", "2800.00", "1000.00", "200.00")),
    # tax bureau collected the full 2%; 60% returned (回拨) to the grassroots union [lnmlw].
    ("12345.67", TAX, ("7407.40", "0.00", "3456.79", "1234.57", "246.91")),
    # finance budget: treated as paid in full (configured default, docs/sharing.md).
    ("0.05", BUDGET, ("0.03", "0.00", "0.01", "0.01", "0.00")),
    # one fen goes to the largest remainder, the grassroots union's 0.6 fen.
    ("0.01", FULL, ("0.01", "0.00", "0.00", "0.00", "0.00")),
    ("0.01", REMITS, ("0.00", "0.00", "0.01", "0.00", "0.00")),
]


@pytest.mark.parametrize(("amount", "situation", "expected"), WORKED)
def test_worked_examples_of_the_default_table(
    amount: str, situation: PayerSituation, expected: tuple[str, ...]
) -> None:
    shares = shares_of(Decimal(amount), "01", situation, DAY, default_sharing_rules())
    assert shares == dict(zip(PARTY_ORDER, map(Decimal, expected), strict=True))


def test_ties_go_to_the_party_closest_to_the_payer() -> None:
    """Five equal fifths of 0.03: three fen left, remainders tie, grassroots, county, city win."""
    rules = _rules((date(2020, 1, 1), [_row("01", FULL, *[200_000] * 5)]))
    shares = shares_of(Decimal("0.03"), "01", FULL, DAY, rules)
    assert [shares[p] for p in PARTY_ORDER] == _fen(1, 1, 1, 0, 0)
    red = shares_of(Decimal("-0.03"), "01", FULL, DAY, rules)
    assert [red[p] for p in PARTY_ORDER] == _fen(-1, -1, -1, 0, 0)


OLD = _row("01", FULL, 600_000, 0, 280_000, 100_000, 20_000)
NEW = _row("01", FULL, 600_000, 100_000, 180_000, 100_000, 20_000)
CHANGE = date(2027, 1, 1)


def test_a_rule_change_applies_from_its_date_only() -> None:
    rules = _rules((date(2020, 1, 1), [OLD]), (CHANGE, [NEW]))
    before = shares_of(Decimal("100.00"), "01", FULL, CHANGE - timedelta(days=1), rules)
    on = shares_of(Decimal("100.00"), "01", FULL, CHANGE, rules)
    assert (before[CO], before[CI]) == (Decimal("0.00"), Decimal("28.00"))
    assert (on[CO], on[CI]) == (Decimal("10.00"), Decimal("18.00"))
    with pytest.raises(InvalidInput, match="no sharing rules in force on 2019-12-31"):
        shares_of(Decimal("1.00"), "01", FULL, date(2019, 12, 31), rules)


@given(
    days=st.sets(st.integers(0, 3000), min_size=1, max_size=8),
    on=st.integers(-5, 3005),
)
def test_the_version_in_force_is_the_latest_on_or_before_the_day(days: set[int], on: int) -> None:
    start = date(2020, 1, 1)
    rules = _rules(*[(start + timedelta(days=d), [OLD]) for d in days])
    day = start + timedelta(days=on)
    earlier = [d for d in days if d <= on]
    if not earlier:
        with pytest.raises(InvalidInput, match="no sharing rules in force"):
            rules.version_on(day)
    else:
        assert rules.version_on(day).effective_from == start + timedelta(days=max(earlier))


def test_a_new_table_may_not_change_what_receipts_already_used() -> None:
    current = _rules((date(2020, 1, 1), [OLD]))
    later = _rules((date(2020, 1, 1), [OLD]), (CHANGE, [NEW]))
    assert supersede(current, later, CHANGE - timedelta(days=1)) is later
    with pytest.raises(InvalidInput, match="would change receipts already issued"):
        supersede(current, later, CHANGE)
    rewritten = _rules((date(2020, 1, 1), [NEW]))
    with pytest.raises(InvalidInput, match="drop or change the version from 2020-01-01"):
        supersede(current, rewritten, DAY)


def test_unknown_items_and_situations_are_refused_in_one_line() -> None:
    rules = default_sharing_rules()
    with pytest.raises(InvalidInput, match=r"^no sharing rule for item '02', situation tax_"):
        shares_of(Decimal("1.00"), "02", TAX, DAY, rules)
    with pytest.raises(InvalidInput, match=r"^'cash' is not a valid payer situation"):
        PayerSituation("cash")
    with pytest.raises(InvalidInput, match="fraction of a fen"):
        shares_of(Decimal("1.001"), "01", TAX, DAY, rules)


_GOOD_ROW = """
[[sharing.versions.rows]]
item = "01"
situation = "enterprise_full"
grassroots = "60%"
county = "0"
city = "28%"
province = "10%"
national = "2%"
"""


def _table(version: str = "effective_from = 2024-01-01", row: str = _GOOD_ROW) -> str:
    return f"[sharing]\n[[sharing.versions]]\n{version}\n{row}"


# Bad tables, each named for its rule, with the exact start of the one-line error.
BAD = {
    "shares-not-summing-to-one": (
        _table(row=_GOOD_ROW.replace('"2%"', '"3%"')),
        "[sharing] versions[0] rows[0]: sharing row 01/enterprise_full: shares sum to 1.01, not 1",
    ),
    "overlapping-versions": (
        _table() + _table().replace("[sharing]\n", ""),
        "sharing versions overlap: two take effect on 2024-01-01",
    ),
    "negative-share": (
        _table(row=_GOOD_ROW.replace('county = "0"', 'county = "-1%"')),
        "[sharing] versions[0] rows[0] county share -1% is negative",
    ),
    "share-above-one": (
        _table(row=_GOOD_ROW.replace('county = "0"', 'county = "1.5"')),
        "[sharing] versions[0] rows[0] county: rate 1.5 must be between 0 and 1",
    ),
    "unknown-party": (
        _table(row=_GOOD_ROW + 'district = "0"\n'),
        "[sharing] versions[0] rows[0]: unknown party or key district",
    ),
    "missing-party": (
        _table(row=_GOOD_ROW.replace('national = "2%"\n', "")),
        "[sharing] versions[0] rows[0]: no share for national",
    ),
    "unknown-situation": (
        _table(row=_GOOD_ROW.replace("enterprise_full", "cash")),
        "[sharing] versions[0] rows[0]: 'cash' is not a valid payer situation",
    ),
    "bad-item-code": (
        _table(row=_GOOD_ROW.replace('"01"', '"1"')),
        "[sharing] versions[0] rows[0]: item code '1' must be 2 to 4 digits",
    ),
    "row-stated-twice": (
        _table(row=_GOOD_ROW * 2),
        "sharing version from 2024-01-01: item 01, situation enterprise_full stated twice",
    ),
    "share-as-number": (
        _table(row=_GOOD_ROW.replace('county = "0"', "county = 0.0")),
        '[sharing] versions[0] rows[0] county must be a share as text ("60%" or "0.6")',
    ),
    "bad-date": (
        _table(version='effective_from = "2024-13-01"'),
        "[sharing] versions[0] effective_from must be a date (YYYY-MM-DD)",
    ),
    "datetime-not-date": (
        _table(version="effective_from = 2024-01-01T00:00:00"),
        "[sharing] versions[0] effective_from must be a date (YYYY-MM-DD)",
    ),
    "no-versions": ("[sharing]\nversions = []\n", "[sharing] versions must be a list of 1-500"),
    "no-rows": (_table(row="rows = []"), "[sharing] versions[0] rows must be a list of 1-1000"),
    "unknown-key": (
        _table(version="effective_from = 2024-01-01\nuntil = 1"),
        "[sharing] versions[0]: unknown key(s) until",
    ),
    "bad-province": ('[sharing]\nprovince = "6"\n', "[sharing] province must be a two-digit"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_tables_are_refused_with_one_line(name: str) -> None:
    text, message = BAD[name]
    with pytest.raises(InvalidInput) as refused:
        rules_from_toml(tomllib.loads(text)["sharing"])
    assert str(refused.value).startswith(message), str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_xml_form_round_trips_and_is_schema_valid() -> None:
    rules = _rules((date(2020, 1, 1), [OLD]), (CHANGE, [NEW, _row("03", TAX, *[200_000] * 5)]))
    element = rules_to_element(rules)
    load_schema("sharing.xsd").assertValid(element)
    assert rules_from_element(etree.fromstring(etree.tostring(element))) == rules
    default = rules_to_element(default_sharing_rules())
    load_schema("sharing.xsd").assertValid(default)
    assert rules_from_element(default) == default_sharing_rules()


def test_the_xml_form_is_checked_again_after_the_schema() -> None:
    """The schema cannot add fractions: a table whose row sums to 1.1 is refused on reading."""
    element = rules_to_element(_rules((date(2020, 1, 1), [OLD])))
    share = element.find(".//{*}Share[@party='county']")
    assert share is not None
    share.set("fraction", "0.1")
    load_schema("sharing.xsd").assertValid(element)
    with pytest.raises(InvalidInput, match=r"shares sum to 1\.1, not 1"):
        rules_from_element(element)


def test_a_row_is_frozen_in_party_order() -> None:
    shares = {p: Decimal(0) for p in reversed(PARTY_ORDER)} | {Party.NATIONAL: Decimal(1)}
    row = ShareRow("01", FULL, shares)
    assert list(row.shares) == list(PARTY_ORDER)
    with pytest.raises(TypeError):
        row.shares[Party.CITY] = Decimal(1)  # type: ignore[index]


def test_a_party_stated_twice_in_xml_is_refused() -> None:
    """The schema counts five Shares but cannot say they name five different parties."""
    element = rules_to_element(_rules((date(2020, 1, 1), [OLD])))
    share = element.find(".//{*}Share[@party='county']")
    assert share is not None
    share.set("party", "city")
    load_schema("sharing.xsd").assertValid(element)
    with pytest.raises(InvalidInput, match="party city stated twice"):
        rules_from_element(element)


def _hamilton(fen: int, shares: list[Fraction]) -> list[int]:
    # The rational reference split_fen replaced: floors, then a fen each to the largest
    # remainders, ties to the party earlier in PARTY_ORDER.
    exact = [fen * share for share in shares]
    whole = [value.numerator // value.denominator for value in exact]
    ranked = sorted(range(len(shares)), key=lambda i: (-(exact[i] - whole[i]), i))
    for i in ranked[: fen - sum(whole)]:
        whole[i] += 1
    return whole


@st.composite
def _decimal_splits(draw: st.DrawFn) -> list[Decimal]:
    # Shares of up to 20 places (ShareRow sums them in the decimal context's 28 digits), each
    # scaled by its own power of ten, the last one what makes them sum to 1.
    places = draw(st.integers(0, 20))
    unit = 10**places
    cuts = sorted(draw(st.lists(st.integers(0, unit), min_size=4, max_size=4)))
    edges = [0, *cuts, unit]
    return [Decimal(b - a).scaleb(-places) for a, b in pairwise(edges)]


@given(shares=_decimal_splits(), fen=st.integers(0, int(MAX_AMOUNT * 100)))
@example(shares=[Decimal("0.2")] * 5, fen=3)  # a five-way tie for three fen
@example(
    shares=[Decimal("0.10"), Decimal("3E-1"), Decimal("0.3"), Decimal("0.300"), Decimal(0)], fen=1
)
def test_the_integer_split_is_the_rational_one(shares: list[Decimal], fen: int) -> None:
    row = ShareRow("01", FULL, dict(zip(PARTY_ORDER, shares, strict=True)))
    expected = _hamilton(fen, [Fraction(share) for share in shares])
    assert list(split_fen(fen, row).values()) == expected
