"""Sharing rules (分成): how each receipt's amount is shared between the grassroots union and
the tiers above it, per item and payer situation, in effective-dated versions a province signs
(docs/sharing.md).

The shares of an amount are computed in whole fen by the largest remainder (Hamilton) method,
ties broken by :data:`PARTY_ORDER`, so they always sum to the amount exactly; the shares of a
negative (red) amount are the negation of the shares of its positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from types import MappingProxyType

from receipts.domain.catalogue import validate_item_code
from receipts.domain.enums import DomainEnum
from receipts.domain.money import FEN, MAX_AMOUNT
from receipts.errors import InvalidAmount, InvalidInput

__all__ = [
    "PARTY_ORDER",
    "Party",
    "PayerSituation",
    "RuleVersion",
    "ShareRow",
    "SharingRules",
    "shares_of",
    "supersede",
]


class Party(DomainEnum):
    """Who receives a share of a receipt's amount."""

    GRASSROOTS = "grassroots"
    """The payer's grassroots union (基层工会): its retained share, or the share returned to it
    (回拨) when the whole amount was paid upward."""
    COUNTY = "county"
    """The county or district federation (县级工会)."""
    CITY = "city"
    """The city federation (市级工会 / 地市级)."""
    PROVINCE = "province"
    """The provincial federation (省级工会)."""
    NATIONAL = "national"
    """The All-China Federation of Trade Unions (中华全国总工会)."""


#: The fixed order in which parties receive a leftover fen when their remainders tie: closest to
#: the payer first (docs/sharing.md, "Rounding").
PARTY_ORDER: tuple[Party, ...] = (
    Party.GRASSROOTS,
    Party.COUNTY,
    Party.CITY,
    Party.PROVINCE,
    Party.NATIONAL,
)


class PayerSituation(DomainEnum):
    """How the money on the receipt reached the issuing federation."""

    ENTERPRISE_FULL = "enterprise_full"
    """The enterprise (or institution) paid the full 2% to the federation (单位全额拨缴)."""
    GRASSROOTS_REMITS = "grassroots_remits"
    """The grassroots union kept its share and remitted the upward part, 40% by convention
    (基层工会上解 40%)."""
    TAX_COLLECTED = "tax_collected"
    """The tax bureau collected the full amount on the unions' behalf (税务代收)."""
    FINANCE_BUDGET = "finance_budget"
    """Paid through the finance budget (财政划拨), for organs and budget-funded institutions."""

    @classmethod
    def _label(cls) -> str:
        return "payer situation"


@dataclass(frozen=True)
class ShareRow:
    """One row of a rule table: the share of every party for one item and payer situation."""

    item: str
    """The item catalogue code (e.g. ``"01"``, 工会经费(拨缴))."""
    situation: PayerSituation
    """How the money was paid."""
    shares: Mapping[Party, Decimal]
    """Each party's exact fraction of the amount, in [0, 1]; all five present, summing to 1."""
    scaled: tuple[tuple[int, ...], int] = field(init=False, repr=False, compare=False)
    """The shares as integers over one power of ten, in :data:`PARTY_ORDER`: exact, so
    :func:`split_fen` needs no rational arithmetic (a receipt line is split on every issue and
    import; with a Fraction per party per line a split cost ~5x as much, docs/operations.md
    "Importing large packages")."""

    def __post_init__(self) -> None:
        validate_item_code(self.item)
        where = f"sharing row {self.item}/{self.situation.value}"
        missing = [p.value for p in PARTY_ORDER if p not in self.shares]
        unknown = sorted(str(p) for p in self.shares if not isinstance(p, Party))
        if unknown:
            raise InvalidInput(f"{where}: unknown party {', '.join(unknown)}")
        if missing:
            raise InvalidInput(f"{where}: no share for {', '.join(missing)}")
        for party in PARTY_ORDER:
            share = self.shares[party]
            if not isinstance(share, Decimal) or not share.is_finite() or not 0 <= share <= 1:
                raise InvalidInput(f"{where}: share of {party.value} must be between 0 and 1")
        total = sum((self.shares[p] for p in PARTY_ORDER), Decimal(0))
        if total != 1:
            raise InvalidInput(f"{where}: shares sum to {total.normalize():f}, not 1")
        ordered = {p: self.shares[p] for p in PARTY_ORDER}
        object.__setattr__(self, "shares", MappingProxyType(ordered))
        object.__setattr__(self, "scaled", _scaled(ordered))


@dataclass(frozen=True)
class RuleVersion:
    """A version of the rule table, in force from its date until the next version's."""

    effective_from: date
    """The first issue day this version applies to."""
    rows: Mapping[tuple[str, PayerSituation], ShareRow]
    """The rows by (item code, payer situation)."""
    source: str = ""
    """Where the rules come from (the province's document), for the record."""

    @classmethod
    def of(cls, effective_from: date, rows: Iterable[ShareRow], source: str = "") -> RuleVersion:
        """A version from its rows; an item and situation stated twice is refused."""
        table: dict[tuple[str, PayerSituation], ShareRow] = {}
        for row in rows:
            key = (row.item, row.situation)
            if key in table:
                raise InvalidInput(
                    f"sharing version from {effective_from}: item {row.item}, "
                    f"situation {row.situation.value} stated twice"
                )
            table[key] = row
        if not table:
            raise InvalidInput(f"sharing version from {effective_from} has no rows")
        return cls(effective_from, MappingProxyType(table), source)

    def row(self, item: str, situation: PayerSituation) -> ShareRow:
        """The row for ``item`` and ``situation``; one without a row is refused in one line."""
        try:
            return self.rows[(item, situation)]
        except KeyError:
            raise InvalidInput(
                f"no sharing rule for item {item!r}, situation {situation.value} "
                f"in the version from {self.effective_from}"
            ) from None


@dataclass(frozen=True)
class SharingRules:
    """A province's rule table: versions by effective date, never two on the same day."""

    versions: tuple[RuleVersion, ...]
    """Ordered by ``effective_from``, strictly increasing."""
    province: str = field(default="")
    """The province's two-digit division code, when the table names it."""

    def __post_init__(self) -> None:
        if not self.versions:
            raise InvalidInput("sharing rules have no versions")
        ordered = tuple(sorted(self.versions, key=lambda v: v.effective_from))
        for earlier, later in pairwise(ordered):
            if earlier.effective_from == later.effective_from:
                raise InvalidInput(
                    f"sharing versions overlap: two take effect on {later.effective_from}"
                )
        object.__setattr__(self, "versions", ordered)

    def version_on(self, day: date) -> RuleVersion:
        """The version in force on ``day``: the latest that took effect on or before it."""
        current = None
        for version in self.versions:
            if version.effective_from > day:
                break
            current = version
        if current is None:
            first = self.versions[0].effective_from
            raise InvalidInput(f"no sharing rules in force on {day} (the first is from {first})")
        return current


def supersede(current: SharingRules, new: SharingRules, last_issue_day: date) -> SharingRules:
    """Accept ``new`` in place of ``current`` when it changes nothing in force on or before
    ``last_issue_day`` (the last day a receipt was issued under ``current``): a change applies
    from its date only, never to receipts already shared."""
    for version in current.versions:
        if version.effective_from <= last_issue_day and version not in new.versions:
            raise InvalidInput(
                f"the new sharing rules drop or change the version from {version.effective_from}, "
                f"already used for receipts up to {last_issue_day}"
            )
    for version in new.versions:
        if version.effective_from <= last_issue_day and version not in current.versions:
            raise InvalidInput(
                f"a sharing version from {version.effective_from} would change receipts already "
                f"issued (up to {last_issue_day}); a change must take effect after that day"
            )
    return new


def shares_of(
    amount: Decimal, item: str, situation: PayerSituation, on: date, rules: SharingRules
) -> dict[Party, Decimal]:
    """Each party's share of ``amount`` (yuan, whole fen) for a receipt issued on ``on``.

    Every party appears, in :data:`PARTY_ORDER`; the shares sum to ``amount`` exactly; each is
    within one fen of its exact value; the shares of ``-amount`` are the negation of these.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmount(f"amount must be a finite Decimal, not {amount!r}")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(f"amount {amount} exceeds the largest amount {MAX_AMOUNT:,}")
    if amount != amount.quantize(FEN):
        raise InvalidAmount(f"amount {amount} has a fraction of a fen")
    row = rules.version_on(on).row(validate_item_code(item), situation)
    fen = int((abs(amount) / FEN).to_integral_value())
    split = split_fen(fen, row)
    sign = -1 if amount < 0 else 1
    return {party: (Decimal(sign * split[party]) * FEN) + Decimal("0.00") for party in PARTY_ORDER}


def split_fen(fen: int, row: ShareRow) -> dict[Party, int]:
    """Hamilton's method over ``fen`` (a whole number of fen, >= 0): each party's floor, then
    one fen each to the largest remainders, ties in :data:`PARTY_ORDER`. Exact: the shares are
    integers over one power of ten, so floors and remainders are integer divisions."""
    numerators, denominator = row.scaled
    whole: list[int] = []
    remainders: list[int] = []
    for numerator in numerators:
        floor, remainder = divmod(fen * numerator, denominator)
        whole.append(floor)
        remainders.append(remainder)
    left = fen - sum(whole)
    if left:
        ranked = sorted(range(len(whole)), key=lambda i: (-remainders[i], i))
        for i in ranked[:left]:
            whole[i] += 1
    return dict(zip(PARTY_ORDER, whole, strict=True))


def _scaled(shares: Mapping[Party, Decimal]) -> tuple[tuple[int, ...], int]:
    """``shares`` (finite, in [0, 1]) as integer numerators over ``10**places``."""
    # From the digits, not Decimal arithmetic: scaleb would round a share of more digits than
    # the context's precision (28).
    parts = [shares[p].as_tuple() for p in PARTY_ORDER]
    places = max(max(0, -int(part.exponent)) for part in parts)
    numerators = tuple(
        int("".join(map(str, part.digits))) * 10 ** (places + int(part.exponent)) for part in parts
    )
    return numerators, 10**places
