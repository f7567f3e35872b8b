"""Union-finance rules in and out of files: a workspace's ``[rules]`` table (validated field by
field, each error one line naming the key) and the ``<Rules>`` element a province signs into its
stock allocations (docs/formats.md, "Union-finance rules")."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from receipts.domain.catalogue import validate_item_code
from receipts.domain.enums import PayerKind
from receipts.domain.finance_rules import (
    MAX_FUTURE_MONTHS,
    MAX_PAST_YEARS,
    FinanceRules,
    ItemOverride,
    ItemRule,
    RateRange,
    RuleOverrides,
)
from receipts.domain.money import parse_rate
from receipts.errors import InvalidInput

__all__ = ["overrides_from_toml", "rules_from_element", "rules_to_element"]

_ITEM_KEYS = frozenset({"rate", "payers", "basis_required"})
_TOP_KEYS = frozenset({"period_future_months", "period_past_years", "items"})


def overrides_from_toml(table: object) -> RuleOverrides:
    """The ``[rules]`` table of ``receipts.toml``; anything wrong raises one line naming it::

    [rules]
    period_future_months = 1          # 所属期 up to next month
    period_past_years = 5
    [rules.items."01"]
    rate = "2%"                       # or ["1%", "2%"], or "any"
    payers = ["enterprise", "institution"]
    basis_required = true
    """
    if not isinstance(table, Mapping):
        raise InvalidInput("[rules] must be a table")
    _refuse_unknown(table, _TOP_KEYS, "[rules]")
    items = table.get("items", {})
    if not isinstance(items, Mapping):
        raise InvalidInput("[rules.items] must be a table of item codes")
    parsed: dict[str, ItemOverride] = {}
    for code, value in items.items():
        if not isinstance(code, str):
            raise InvalidInput("[rules.items] keys must be item codes")
        validate_item_code(code)
        parsed[code] = _item_override(code, value)
    return RuleOverrides(
        _whole(table, "period_future_months", MAX_FUTURE_MONTHS),
        _whole(table, "period_past_years", MAX_PAST_YEARS),
        parsed,
    )


def _refuse_unknown(table: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in table if key not in known)
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)}")


def _whole(table: Mapping[str, Any], key: str, maximum: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidInput(f"[rules] {key} must be a whole number 0-{maximum}, not {value!r}")
    return value


def _item_override(code: str, value: object) -> ItemOverride:
    where = f'[rules.items."{code}"]'
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a table")
    _refuse_unknown(value, _ITEM_KEYS, where)
    rate, any_rate = _rate(value.get("rate"), where)
    payers = value.get("payers")
    kinds: frozenset[PayerKind] | None = None
    if payers is not None:
        if (
            not isinstance(payers, list)
            or not payers
            or not all(isinstance(p, str) for p in payers)
        ):
            raise InvalidInput(f"{where} payers must be a non-empty list of payer kinds")
        try:
            kinds = frozenset(PayerKind(p) for p in payers)
        except InvalidInput as error:
            raise InvalidInput(f"{where} payers: {error}") from None
        if len(kinds) != len(payers):
            raise InvalidInput(f"{where} payers names a payer kind twice")
    basis = value.get("basis_required")
    if basis is not None and not isinstance(basis, bool):
        raise InvalidInput(f"{where} basis_required must be true or false, not {basis!r}")
    return ItemOverride(rate, any_rate, kinds, basis)


def _rate(value: object, where: str) -> tuple[RateRange | None, bool]:
    """(range, any): ``"2%"``, ``["1%", "2%"]`` or ``"any"``."""
    if value is None:
        return None, False
    if value == "any":
        return None, True
    texts = [t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)]
    if not 1 <= len(texts) <= 2 or len(texts) != (len(value) if isinstance(value, list) else 1):
        raise InvalidInput(
            f'{where} rate must be a rate ("2%"), a range (["1%", "2%"]) or "any", not {value!r}'
        )
    try:
        rates = [parse_rate(t) for t in texts]
        return RateRange(rates[0], rates[-1]), False
    except InvalidInput as error:
        raise InvalidInput(f"{where} rate: {error}") from None


def rules_to_element(rules: FinanceRules, namespace: str) -> etree._Element:
    """``<Rules>`` in ``namespace``: every item rule, the 所属期 window."""
    ns = f"{{{namespace}}}"
    root = etree.Element(ns + "Rules")
    etree.SubElement(root, ns + "PeriodFutureMonths").text = str(rules.period_future_months)
    etree.SubElement(root, ns + "PeriodPastYears").text = str(rules.period_past_years)
    for code, rule in rules.items.items():
        item = etree.SubElement(
            root, ns + "Item", code=code, basisRequired=str(rule.basis_required).lower()
        )
        if rule.rate is not None:
            etree.SubElement(
                item, ns + "Rate", low=_decimal(rule.rate.low), high=_decimal(rule.rate.high)
            )
        etree.SubElement(item, ns + "Payers").text = " ".join(sorted(p.value for p in rule.payers))
    return root


def rules_from_element(element: etree._Element, namespace: str) -> FinanceRules:
    """The rules a (schema-valid, signed) ``<Rules>`` element states."""
    ns = f"{{{namespace}}}"
    items: dict[str, ItemRule] = {}
    for item in element.iterfind(ns + "Item"):
        code = validate_item_code(item.get("code", ""))
        if code in items:
            raise InvalidInput(f"rules name item {code} twice")
        rate_element = item.find(ns + "Rate")
        rate = (
            None
            if rate_element is None
            else RateRange(
                parse_rate(rate_element.get("low", "")), parse_rate(rate_element.get("high", ""))
            )
        )
        payers = frozenset(PayerKind(p) for p in (item.findtext(ns + "Payers") or "").split())
        items[code] = ItemRule(rate, payers, item.get("basisRequired") in ("true", "1"))
    return FinanceRules(
        items,
        int(element.findtext(ns + "PeriodFutureMonths") or "-1"),
        int(element.findtext(ns + "PeriodPastYears") or "-1"),
    )


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
