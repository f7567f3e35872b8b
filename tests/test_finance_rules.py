"""Union-finance rules: the national defaults, each rule's refusal, configuration, tightening,
the signed form, and the issuer refusing before a number is taken."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from receipts.domain.enums import PayerKind, Tier
from receipts.domain.finance_rules import (
    DEFAULT_RULES,
    FinanceRules,
    ItemRule,
    RateRange,
    RuleViolation,
    format_percent,
)
from receipts.domain.finance_rules_codec import (
    overrides_from_toml,
    rules_from_element,
    rules_to_element,
)
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer
from receipts.errors import InvalidInput
from receipts.issuing.issue import issue
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from schemas import load_schema
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, stock_city
from tests.support.tier_pki import tier_pki_start

TODAY = date(2026, 12, 3)
ACME = Payer("宁夏贺兰山实业有限公司", PayerKind.ENTERPRISE, uscc="91640100MA7600001J")
NAMES = {"01": "工会经费(拨缴)", "02": "会员会费", "03": "建会筹备金", "99": "其他"}


def line(code: str = "01", period: str = "2026-10", *money: str) -> Item:
    """An item: ``line("01", "2026-10", "2000.00")`` or ``line("01", "2026-10", BASIS, RATE)``."""
    if len(money) == 2:
        basis, rate = Decimal(money[0]), Decimal(money[1])
        amount = (basis * rate).quantize(Decimal("0.01"))
        return Item(code, NAMES[code], period, amount, basis, rate)
    return Item(code, NAMES[code], period, Decimal(money[0] if money else "100.00"))


def req(*items: Item, payer: Payer = ACME) -> IssueRequest:
    return IssueRequest(payer, items or (line(),), "张晓梅", "李建国")


def messages(rules: FinanceRules, request: IssueRequest) -> list[str]:
    return [str(v) for v in rules.violations(request, TODAY)]


INDIVIDUAL = Payer("王小明", PayerKind.INDIVIDUAL, other_id="M-0042")
UNION = Payer("银川市第一中学工会委员会", PayerKind.GRASSROOTS_UNION, uscc="81640100MA7600004W")
FEDERATION = Payer("兴庆区总工会", PayerKind.FEDERATION)
INSTITUTION = Payer("银川市第一中学", PayerKind.INSTITUTION, uscc="12640100MB0000000U")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (req(line(), payer=INDIVIDUAL), "item 1: 工会经费(拨缴) is not paid by an individual "
         "payer (allowed: enterprise, grassroots_union, institution, other)"),
        (req(line(), payer=FEDERATION), "item 1: 工会经费(拨缴) is not paid by a federation "
         "payer (allowed: enterprise, grassroots_union, institution, other)"),
        (req(line("03"), payer=UNION), "item 1: 建会筹备金 is not paid by a grassroots_union "
         "payer (allowed: enterprise, institution, other)"),
        (req(line("03"), payer=INDIVIDUAL), "item 1: 建会筹备金 is not paid by an individual "
         "payer (allowed: enterprise, institution, other)"),
        (req(line("02"), payer=FEDERATION), "item 1: 会员会费 is not paid by a federation payer "
         "(allowed: enterprise, grassroots_union, individual, institution, other)"),
        (req(line("01", "2026-10", "100000.00", "0.03")),
         "item 1: 工会经费(拨缴) rate 3% is outside the allowed 2%"),
        (req(line("02", "2026-10", "3000.00", "0.006")),
         "item 1: 会员会费 rate 0.6% is outside the allowed 0.5%"),
        (req(line("03", "2026-10", "100000.00", "0.025")),
         "item 1: 建会筹备金 rate 2.5% is outside the allowed 0%~2%"),
        (req(line(), payer=Payer("某公司", PayerKind.ENTERPRISE)),
         "an enterprise payer needs its USCC (统一社会信用代码)"),
        (req(line(), payer=Payer("某中学", PayerKind.INSTITUTION, other_id="X-1")),
         "an institution payer needs its USCC (统一社会信用代码)"),
        (req(line(), line("02"), line()),
         "items 1 and 3: 工会经费(拨缴) for 2026-10 twice (one line per item and period)"),
        (req(line("01", "2027-02")), "item 1: payment period 2027-02 ends after 2027-01, more "
         "than 1 month(s) after 2026-12"),
        (req(line("01", "2021-11")), "item 1: payment period 2021-11 begins before 2021-12, "
         "more than 5 year(s) before 2026-12"),
    ],
)  # fmt: skip
def test_each_default_rule_refuses_with_one_line(request_: IssueRequest, expected: str) -> None:
    assert messages(DEFAULT_RULES, request_) == [expected]
    with pytest.raises(RuleViolation, match=f"^{expected.replace('(', '.').replace(')', '.')}$"):
        DEFAULT_RULES.check(request_, TODAY)


@pytest.mark.parametrize(
    "request_",
    [
        req(line("01", "2026-10", "100000.00", "0.02")),  # 2 % of the payroll
        req(line("01", "2026-10", "2000.00")),  # no base: the amount alone
        req(line("01"), payer=UNION),  # 全额上缴: the grassroots union forwards the 2 %
        req(line("01"), payer=INSTITUTION),
        req(line("02", "2026-09", "3000.00", "0.005"), payer=INDIVIDUAL),  # a member's dues
        req(line("02"), payer=ACME),  # dues the employer withheld from wages
        req(line("03", "2026-10", "100000.00", "0.01")),  # a province's reduced rate
        req(line("99", "2026-10", "100.00", "0.9"), payer=FEDERATION),  # 其他: no rule
        req(line("01", "2026-10"), line("01", "2026-11")),  # one item, two periods
        req(line("01", "2027-01"), line("01", "2021-12")),  # the window's edges
        req(line("01", "2026Q4"), line("02", "2026")),  # a quarter, a year
        req(line("99"), payer=Payer("张三", PayerKind.OTHER)),  # no USCC needed
    ],
)
def test_what_national_practice_allows(request_: IssueRequest) -> None:
    assert messages(DEFAULT_RULES, request_) == []


def test_every_violation_of_a_request_is_listed_in_order() -> None:
    bad = req(
        line("01", "2026-10", "100000.00", "0.03"),
        line("01", "2026-10"),
        payer=Payer("王小明", PayerKind.INDIVIDUAL),
    )
    assert [(v.rule, v.item) for v in DEFAULT_RULES.violations(bad, TODAY)] == [
        ("payer-kind", 1),
        ("rate", 1),
        ("duplicate-item", 2),
        ("payer-kind", 2),
    ]


def test_base_required_when_configured() -> None:
    rules = DEFAULT_RULES.overridden(
        overrides_from_toml({"items": {"01": {"basis_required": True}}})
    )
    assert messages(rules, req(line("01", "2026-10", "2000.00"))) == [
        "item 1: 工会经费(拨缴) needs its base (计拨工资总额) and rate"
    ]
    assert messages(rules, req(line("01", "2026-10", "100000.00", "0.02"))) == []


def test_format_percent() -> None:
    assert [format_percent(Decimal(r)) for r in ("0.02", "0.005", "0", "1", "0.0025")] == [
        "2%",
        "0.5%",
        "0%",
        "100%",
        "0.25%",
    ]


PROVINCE_TOML: dict[str, Any] = {
    "period_future_months": 2,
    "period_past_years": 3,
    "items": {
        "03": {"rate": "1%", "basis_required": True},
        "01": {"rate": ["1.5%", "2%"], "payers": ["enterprise", "institution"]},
        "99": {"payers": ["enterprise"]},
        "50": {"rate": "any", "payers": ["individual"]},
    },
}


def test_a_province_overrides_the_defaults() -> None:
    rules = DEFAULT_RULES.overridden(overrides_from_toml(PROVINCE_TOML))
    assert (rules.period_future_months, rules.period_past_years) == (2, 3)
    one = Decimal("0.01")
    assert rules.items["03"] == ItemRule(
        RateRange(one, one), DEFAULT_RULES.items["03"].payers, True
    )
    assert rules.items["01"].rate == RateRange(Decimal("0.015"), Decimal("0.02"))
    assert rules.items["01"].payers == {PayerKind.ENTERPRISE, PayerKind.INSTITUTION}
    assert rules.items["02"] == DEFAULT_RULES.items["02"]  # not configured: the default
    assert rules.items["50"] == ItemRule(None, frozenset({PayerKind.INDIVIDUAL}))
    # A province may loosen what national practice says, e.g. any rate for 01.
    loose = DEFAULT_RULES.overridden(overrides_from_toml({"items": {"01": {"rate": "any"}}}))
    assert messages(loose, req(line("01", "2026-10", "100000.00", "0.03"))) == []


def test_a_city_only_tightens_its_upstreams_rules() -> None:
    upstream = DEFAULT_RULES.overridden(overrides_from_toml(PROVINCE_TOML))
    city = upstream.tightened(
        overrides_from_toml(
            {
                "period_future_months": 6,  # looser: the upstream's 2 stays
                "period_past_years": 1,  # tighter: applies
                "items": {
                    "01": {"rate": ["1%", "1.8%"], "payers": ["enterprise", "individual"]},
                    "03": {"basis_required": False, "rate": "any"},  # looser: ignored
                    "02": {"basis_required": True},
                },
            }
        )
    )
    assert (city.period_future_months, city.period_past_years) == (2, 1)
    assert city.items["01"] == ItemRule(
        RateRange(Decimal("0.015"), Decimal("0.018")), frozenset({PayerKind.ENTERPRISE})
    )
    assert city.items["03"] == upstream.items["03"]
    assert city.items["02"].basis_required


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"items": {"01": {"rate": "3%"}}}, '[rules.items."01"] rate 3% leaves none of the '
         "upstream's 2%"),
        ({"items": {"01": {"payers": ["individual"]}}}, '[rules.items."01"] payers leave none '
         "of the upstream's"),
    ],
)  # fmt: skip
def test_a_city_value_leaving_nothing_is_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DEFAULT_RULES.tightened(overrides_from_toml(table))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([], "[rules] must be a table"),
        ({"threshold": 5}, "[rules]: unknown key(s) threshold"),
        ({"period_future_months": True}, "[rules] period_future_months must be a whole number "
         "0-24, not True"),
        ({"period_past_years": -1}, "[rules] period_past_years must be a whole number 0-30, "
         "not -1"),
        ({"period_past_years": 31}, "[rules] period_past_years must be a whole number 0-30, "
         "not 31"),
        ({"items": []}, "[rules.items] must be a table of item codes"),
        ({"items": {"1": {}}}, "item code '1' must be 2 to 4 digits"),
        ({"items": {"01": "2%"}}, '[rules.items."01"] must be a table'),
        ({"items": {"01": {"rates": "2%"}}}, '[rules.items."01"]: unknown key(s) rates'),
        ({"items": {"01": {"rate": "2 percent"}}}, '[rules.items."01"] rate: not a rate: '
         "'2 percent'"),
        ({"items": {"01": {"rate": 0.02}}}, '[rules.items."01"] rate must be a rate ("2%"), a '
         'range (["1%", "2%"]) or "any", not 0.02'),
        ({"items": {"01": {"rate": ["1%", "2%", "3%"]}}}, '[rules.items."01"] rate must be a '
         "rate (\"2%\"), a range ([\"1%\", \"2%\"]) or \"any\", not ['1%', '2%', '3%']"),
        ({"items": {"01": {"rate": ["2%", "1%"]}}}, '[rules.items."01"] rate: rate range '
         "2%~1% must be within 0%~100%, lowest first"),
        ({"items": {"01": {"payers": []}}}, '[rules.items."01"] payers must be a non-empty '
         "list of payer kinds"),
        ({"items": {"01": {"payers": ["company"]}}}, '[rules.items."01"] payers: \'company\' '
         "is not a valid payer kind (one of: enterprise, institution, grassroots_union, "
         "federation, individual, other)"),
        ({"items": {"01": {"payers": ["other", "other"]}}}, '[rules.items."01"] payers names a '
         "payer kind twice"),
        ({"items": {"01": {"basis_required": "yes"}}}, '[rules.items."01"] basis_required must '
         "be true or false, not 'yes'"),
    ],
)  # fmt: skip
def test_a_bad_rules_table_is_one_line_naming_the_key(table: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        overrides_from_toml(table)
    assert str(caught.value) == message


NS = "urn:union-dues-receipt:allocation:1"


@pytest.mark.parametrize("table", [{}, PROVINCE_TOML])
def test_rules_travel_as_xml_unchanged(table: dict[str, Any]) -> None:
    rules = DEFAULT_RULES.overridden(overrides_from_toml(table))
    assert rules_from_element(rules_to_element(rules, NS), NS) == rules


def test_allocation_schema_takes_rules_and_old_allocations_without() -> None:
    from lxml import etree

    root = etree.Element(f"{{{NS}}}Allocation", version="1")
    for name, value in [
        ("Allocator", "640000"),
        ("Holder", "640100"),
        ("HolderName", "银川市总工会"),
        ("Code", "64710126"),
        ("First", "0000000001"),
        ("Last", "0000000010"),
        ("AllocatedAt", "2026-12-03T10:00:00+08:00"),
    ]:
        etree.SubElement(root, f"{{{NS}}}{name}").text = value
    schema = load_schema("allocation.xsd")
    assert schema.validate(root), schema.error_log
    root.append(rules_to_element(DEFAULT_RULES, NS))
    assert schema.validate(root), schema.error_log
    root[-1][2][1].text = "enterprise company"  # 01's payers
    assert not schema.validate(root)


def test_the_issuer_refuses_before_a_number_is_taken(ledger_db: Database, tmp_path: Path) -> None:
    # Last year's 3 December, paying its October: always past, and inside the tier PKI's
    # validity (its certificates start on 1 December of the year before last), whatever today is.
    year = tier_pki_start(datetime.now(UTC)).year + 1
    october = f"{year}-10"
    stock_city(ledger_db, tmp_path, count=5, year=year)
    issuer = make_issuer(clock=fixed_clock(datetime(year, 12, 3, 10, tzinfo=SHANGHAI)))
    with pytest.raises(RuleViolation, match=r"^item 1: 工会经费\(拨缴\) is not paid by an "):
        issue(ledger_db, issuer, req(line("01", october), payer=INDIVIDUAL))
    with pytest.raises(RuleViolation, match="rate 3% is outside the allowed 2%"):
        issue(ledger_db, issuer, req(line("01", october, "100000.00", "0.03")))
    with ledger_db.read() as session:
        assert session.scalar(select(func.count()).select_from(ReceiptRow)) == 0
    assert issue(ledger_db, issuer, req(line("01", october))).ref.number == 1  # none was lost
    # The issuer applies the rules it is given: a province's 3 % allows it.
    loose = DEFAULT_RULES.overridden(overrides_from_toml({"items": {"01": {"rate": "3%"}}}))
    issuer = dataclasses.replace(issuer, rules=loose)
    rated = req(line("01", october, "100000.00", "0.03"))
    assert issue(ledger_db, issuer, rated).ref.number == 2


def test_a_city_with_only_old_allocations_applies_the_defaults(
    ledger_db: Database, tmp_path: Path
) -> None:
    """Allocations made before rules travelled carry none: the city applies the national
    defaults, tightened by its own [rules] only."""
    from receipts.issuing.effective_rules import effective_rules
    from receipts.workspace import WorkspaceConfig, WorkspaceKind
    from tests.support.tier_pki import tier_pki

    stock_city(ledger_db, tmp_path, count=5)  # allocate() without rules: no <Rules>
    config = WorkspaceConfig(WorkspaceKind.FEDERATION, "银川市总工会", "640100", Tier.CITY)
    assert effective_rules(ledger_db, config, tier_pki().validator()) == DEFAULT_RULES
    loosen = dataclasses.replace(config, rules={"items": {"01": {"payers": ["enterprise"]}}})
    rules = effective_rules(ledger_db, loosen, tier_pki().validator())
    assert rules.items["01"].payers == {PayerKind.ENTERPRISE}
    assert WorkspaceConfig.from_toml(loosen.to_toml()) == loosen  # [rules] is written back


def test_batch_rule_problems_are_reported_at_each_items_row() -> None:
    from receipts.batch.fields import BatchEntry
    from receipts.batch.rules import rule_problems

    bad = req(line("01"), line("01", "2026-11", "100000.00", "0.03"), payer=INDIVIDUAL)
    entries = [
        BatchEntry(7, dataclasses.replace(bad, client_ref="CSV"), (7, 9)),  # CSV: a row an item
        BatchEntry(3, dataclasses.replace(bad, client_ref="JSON")),  # a JSON line
        BatchEntry(5, req()),
    ]
    assert [str(p) for p in rule_problems("f", entries, DEFAULT_RULES, TODAY)] == [
        f"f:3: reference JSON: {m}"
        for m in (
            f"item 1: 工会经费(拨缴) is not paid by an individual payer {PAYERS_01}",
            f"item 2: 工会经费(拨缴) is not paid by an individual payer {PAYERS_01}",
            "item 2: 工会经费(拨缴) rate 3% is outside the allowed 2%",
        )
    ] + [
        f"f:7: reference CSV: item 1: 工会经费(拨缴) is not paid by an individual payer "
        f"{PAYERS_01}",
        f"f:9: reference CSV: item 2: 工会经费(拨缴) is not paid by an individual payer "
        f"{PAYERS_01}",
        "f:9: reference CSV: item 2: 工会经费(拨缴) rate 3% is outside the allowed 2%",
    ]


PAYERS_01 = "(allowed: enterprise, grassroots_union, institution, other)"


def test_a_city_applies_the_newest_signed_rules_on_each_back_end(
    ledger_db: Database, tmp_path: Path
) -> None:
    from receipts.domain.model import Organisation
    from receipts.issuing.effective_rules import effective_rules
    from receipts.issuing.stock_allocation import allocate, import_allocation
    from receipts.ledger.migrate import initialise
    from receipts.workspace import WorkspaceConfig, WorkspaceKind
    from tests.support.tier_pki import tier_pki

    pki, city = tier_pki(), Organisation("640100", "银川市总工会", Tier.CITY)
    prov_db = Database(f"sqlite:///{tmp_path / 'province.sqlite'}")
    initialise(prov_db, "640000")
    tight = DEFAULT_RULES.overridden(overrides_from_toml({"items": {"01": {"rate": "2%"}}}))
    tight = dataclasses.replace(tight, period_past_years=2)
    # Allocated last year: inside the tier PKI's validity (from 1 December of the year before
    # last), whatever today is.
    year = tier_pki_start(datetime.now(UTC)).year + 1
    documents = [
        allocate(prov_db, pki.signers["640000"], city, f"647101{year % 100:02d}", 5, when, rules)[1]
        for when, rules in (
            (datetime(year, 1, 5, tzinfo=SHANGHAI), DEFAULT_RULES),
            (datetime(year, 6, 5, tzinfo=SHANGHAI), tight),
            (datetime(year, 9, 5, tzinfo=SHANGHAI), None),  # made the old way: no rules
        )
    ]
    prov_db.dispose()
    for document in reversed(documents):  # imported newest first
        import_allocation(ledger_db, document, pki.validator(), "640100", pki.signers["640100"])
    config = WorkspaceConfig(WorkspaceKind.FEDERATION, "银川市总工会", "640100", Tier.CITY)
    assert effective_rules(ledger_db, config, pki.validator()) == tight
