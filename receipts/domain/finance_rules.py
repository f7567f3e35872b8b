"""Union-finance rules (docs/formats.md, "Union-finance rules"): what a receipt may say, checked
before a number is taken.

Per catalogue item: the allowed rate or rate range, which payer kinds may pay it and whether its
base (计拨工资总额) is required; for every receipt: the 所属期 window, no item twice for one
period, and a USCC for an enterprise or institution payer. :data:`DEFAULT_RULES` follow national
practice; a province (or the national federation) overrides them in ``receipts.toml``
(:meth:`FinanceRules.overridden`), and a city applies its province's rules, which it may only
tighten (:meth:`FinanceRules.tightened`). Reading them from ``[rules]`` or from an allocation is
:mod:`receipts.domain.finance_rules_codec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from receipts.domain.enums import PayerKind
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item
from receipts.domain.payment_period import check_period_window, parse_payment_period
from receipts.errors import InvalidInput

__all__ = [
    "ALL_PAYERS",
    "DEFAULT_RULES",
    "MAX_FUTURE_MONTHS",
    "MAX_PAST_YEARS",
    "NO_RULE",
    "USCC_REQUIRED",
    "FinanceRules",
    "ItemOverride",
    "ItemRule",
    "RateRange",
    "RuleOverrides",
    "RuleViolation",
    "format_percent",
]

#: Payer kinds that must give their USCC: a receipt without it can never be booked by them.
USCC_REQUIRED = frozenset({PayerKind.ENTERPRISE, PayerKind.INSTITUTION})
ALL_PAYERS = frozenset(PayerKind)
#: The largest 所属期 window a configuration may set.
MAX_FUTURE_MONTHS = 24
MAX_PAST_YEARS = 30


class RuleViolation(InvalidInput):
    """A request breaks a union-finance rule; the message names the rule and the item."""

    def __init__(self, message: str, rule: str, item: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        """Which rule: ``uscc-required``, ``duplicate-item``, ``payer-kind``, ``base-required``,
        ``rate`` or ``period-window``."""
        self.item = item
        """1-based item line it is about; None for the whole receipt."""


def format_percent(rate: Decimal) -> str:
    """A rate as a percentage: 0.02 → ``2%``, 0.005 → ``0.5%``."""
    percent = (rate * 100).normalize()
    return f"{percent:f}%"


@dataclass(frozen=True)
class RateRange:
    """The rates an item may have: one rate when ``low == high``."""

    low: Decimal
    """Lowest allowed rate (0.02 is 2 %)."""
    high: Decimal
    """Highest allowed rate."""

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.low <= self.high <= Decimal(1):
            raise InvalidInput(
                f"rate range {format_percent(self.low)}~{format_percent(self.high)} must be "
                "within 0%~100%, lowest first"
            )

    def __str__(self) -> str:
        low, high = format_percent(self.low), format_percent(self.high)
        return low if self.low == self.high else f"{low}~{high}"

    def allows(self, rate: Decimal) -> bool:
        """Whether ``rate`` is within the range."""
        return self.low <= rate <= self.high

    def within(self, other: RateRange) -> bool:
        """Whether every rate of this range is allowed by ``other``."""
        return other.low <= self.low and self.high <= other.high


@dataclass(frozen=True)
class ItemRule:
    """The rules of one catalogue item."""

    rate: RateRange | None
    """Allowed rates; None when any rate is allowed."""
    payers: frozenset[PayerKind]
    """Payer kinds that may pay the item."""
    basis_required: bool = False
    """Whether the base (计拨工资总额) and rate must be given."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "payers", frozenset(PayerKind(p) for p in self.payers))
        if not self.payers:
            raise InvalidInput("an item's rule must allow at least one payer kind")


#: The rule of an item no rule names (99 其他, a workspace's own items): anything goes.
NO_RULE = ItemRule(None, ALL_PAYERS)

_EMPLOYERS = frozenset(
    {PayerKind.ENTERPRISE, PayerKind.INSTITUTION, PayerKind.GRASSROOTS_UNION, PayerKind.OTHER}
)


@dataclass(frozen=True)
class ItemOverride:
    """What a configuration (``[rules.items."01"]``) says about one item; None: not said."""

    rate: RateRange | None = None
    """A rate or range, when configured."""
    any_rate: bool = False
    """``rate = "any"``: no rate rule."""
    payers: frozenset[PayerKind] | None = None
    """Payer kinds, when configured."""
    basis_required: bool | None = None
    """Whether the base is required, when configured."""


@dataclass(frozen=True)
class RuleOverrides:
    """A workspace's ``[rules]`` table, validated; None and empty mean "not configured"."""

    period_future_months: int | None = None
    """How many months after the current one a 所属期 may end."""
    period_past_years: int | None = None
    """How many years before the current month a 所属期 may begin."""
    items: Mapping[str, ItemOverride] = field(default_factory=dict)
    """Item code → what is configured for it."""


@dataclass(frozen=True)
class FinanceRules:
    """The rules an issuer applies."""

    items: Mapping[str, ItemRule]
    """Item code → its rule; items not named have :data:`NO_RULE`."""
    period_future_months: int = 1
    """A 所属期 may end at most this many months after the current month (1: next month)."""
    period_past_years: int = 5
    """A 所属期 may begin at most this many years before the current month."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", MappingProxyType(dict(sorted(self.items.items()))))
        if not 0 <= self.period_future_months <= MAX_FUTURE_MONTHS:
            raise InvalidInput(f"period_future_months must be 0-{MAX_FUTURE_MONTHS}")
        if not 0 <= self.period_past_years <= MAX_PAST_YEARS:
            raise InvalidInput(f"period_past_years must be 0-{MAX_PAST_YEARS}")

    def rule_for(self, code: str) -> ItemRule:
        """The rule of item ``code``."""
        return self.items.get(code, NO_RULE)

    def check(self, request: IssueRequest, today: date) -> None:
        """Raise the first :class:`RuleViolation` of ``request`` issued on ``today``."""
        found = self.violations(request, today)
        if found:
            raise found[0]

    def violations(self, request: IssueRequest, today: date) -> list[RuleViolation]:
        """Every rule ``request`` breaks when issued on ``today`` (the issuer's calendar)."""
        out: list[RuleViolation] = []
        kind = request.payer.kind
        if kind in USCC_REQUIRED and request.payer.uscc is None:
            out.append(
                RuleViolation(
                    f"{_article(kind)} {kind.value} payer needs its USCC (统一社会信用代码)",
                    "uscc-required",
                )
            )
        seen: dict[tuple[str, str], int] = {}
        for n, item in enumerate(request.items, 1):
            first = seen.setdefault((item.code, item.period), n)
            if first != n:
                out.append(
                    RuleViolation(
                        f"items {first} and {n}: {item.name} for {item.period} twice "
                        "(one line per item and period)",
                        "duplicate-item",
                        n,
                    )
                )
            out.extend(self._item_violations(n, item, kind, today))
        return out

    def _item_violations(
        self, n: int, item: Item, kind: PayerKind, today: date
    ) -> list[RuleViolation]:
        rule, name = self.rule_for(item.code), item.name
        out: list[RuleViolation] = []
        if kind not in rule.payers:
            allowed = ", ".join(sorted(p.value for p in rule.payers))
            message = f"item {n}: {name} is not paid by {_article(kind)} {kind.value} payer"
            out.append(RuleViolation(f"{message} (allowed: {allowed})", "payer-kind", n))
        if rule.basis_required and item.basis is None:
            message = f"item {n}: {name} needs its base (计拨工资总额) and rate"
            out.append(RuleViolation(message, "base-required", n))
        if rule.rate is not None and item.rate is not None and not rule.rate.allows(item.rate):
            message = (
                f"item {n}: {name} rate {format_percent(item.rate)} is outside the allowed "
                f"{rule.rate}"
            )
            out.append(RuleViolation(message, "rate", n))
        try:
            check_period_window(
                parse_payment_period(item.period),
                today,
                future_months=self.period_future_months,
                past_years=self.period_past_years,
            )
        except InvalidInput as error:
            out.append(RuleViolation(f"item {n}: {error}", "period-window", n))
        return out

    def overridden(self, overrides: RuleOverrides) -> FinanceRules:
        """These rules with a province's (or the national federation's) configuration in place
        of them: what is configured replaces, what is not stays."""
        items = dict(self.items)
        for code, over in overrides.items.items():
            base = self.rule_for(code)
            rate = None if over.any_rate else (over.rate or base.rate)
            items[code] = ItemRule(
                rate,
                over.payers if over.payers is not None else base.payers,
                base.basis_required if over.basis_required is None else over.basis_required,
            )
        return FinanceRules(
            items,
            _given(overrides.period_future_months, self.period_future_months),
            _given(overrides.period_past_years, self.period_past_years),
        )

    def tightened(self, overrides: RuleOverrides) -> FinanceRules:
        """These (an upstream's) rules, tightened by a city's configuration: of each configured
        value and the upstream's, the stricter applies, so nothing is ever loosened. A value
        that leaves nothing allowed is refused."""
        items = dict(self.items)
        for code, over in overrides.items.items():
            base = self.rule_for(code)
            where = f'[rules.items."{code}"]'
            rate = base.rate if over.any_rate or over.rate is None else over.rate
            if over.rate is not None and base.rate is not None:
                low, high = max(over.rate.low, base.rate.low), min(over.rate.high, base.rate.high)
                if low > high:
                    raise InvalidInput(
                        f"{where} rate {over.rate} leaves none of the upstream's {base.rate}"
                    )
                rate = RateRange(low, high)
            payers = base.payers if over.payers is None else base.payers & over.payers
            if not payers:
                raise InvalidInput(f"{where} payers leave none of the upstream's")
            items[code] = ItemRule(rate, payers, base.basis_required or bool(over.basis_required))
        return FinanceRules(
            items,
            min(_given(overrides.period_future_months, 10**6), self.period_future_months),
            min(_given(overrides.period_past_years, 10**6), self.period_past_years),
        )


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def _article(kind: PayerKind) -> str:
    return "an" if kind.value[0] in "aeiou" else "a"


#: National practice (docs/formats.md, "Union-finance rules", has the reasons for each).
DEFAULT_RULES = FinanceRules(
    {
        "01": ItemRule(RateRange(Decimal("0.02"), Decimal("0.02")), _EMPLOYERS),
        "02": ItemRule(
            RateRange(Decimal("0.005"), Decimal("0.005")),
            frozenset(
                {
                    PayerKind.INDIVIDUAL,
                    PayerKind.GRASSROOTS_UNION,
                    PayerKind.ENTERPRISE,
                    PayerKind.INSTITUTION,
                    PayerKind.OTHER,
                }
            ),
        ),
        "03": ItemRule(
            RateRange(Decimal(0), Decimal("0.02")),
            frozenset({PayerKind.ENTERPRISE, PayerKind.INSTITUTION, PayerKind.OTHER}),
        ),
        "99": NO_RULE,
    }
)
