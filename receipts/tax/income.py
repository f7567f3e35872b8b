"""Tax-collected income for settlement (docs/tax.md "Income and settlement"): what the tax bureau
collected on ``issuer``'s behalf in a month, by item, and its shares between the tiers under the
situation ``tax_collected`` (:class:`receipts.domain.sharing.PayerSituation`), in the same shape
as the receipts' stored shares (``receipts.settlement.shares.period_shares``), so a settlement
statement adds the two.

The month of a tax record is the month the tax bureau collected it (``collected_on``), as a
receipt's is the month it was issued; its 所属期 stays on the record. Each record is shared on
its own (as each receipt is), under the version of the sharing table in force on its collection
day, with the largest-remainder rounding of docs/sharing.md: the shares of a record always sum to
its amount. An item the table has no row for at all is not shared: the whole amount is the
issuer's own (as for receipts, docs/settlement.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.money import from_fen, to_fen
from receipts.domain.payment_period import add_months, parse_payment_period
from receipts.domain.sharing import PARTY_ORDER, Party, PayerSituation, SharingRules, shares_of
from receipts.errors import InvalidInput
from receipts.ledger.models import TaxCollectionRow

__all__ = ["collection_month", "tax_income", "tax_records_of", "tax_shares"]


def collection_month(period: str) -> tuple[date, date]:
    """The first day of the month ``period`` (``YYYY-MM``) and of the month after it."""
    parsed = parse_payment_period(period, what="settlement period")
    if parsed.months != 1:
        raise InvalidInput(f"settlement period {period!r} must be a month (YYYY-MM)")
    return parsed.first_month, add_months(parsed.first_month, 1)


def tax_income(session: Session, issuer: str, period: str) -> dict[str, int]:
    """Item code → fen the tax bureau collected for ``issuer`` in the month ``period``
    (``YYYY-MM``, by collection day); items without any are absent."""
    start, end = collection_month(period)
    query = (
        select(TaxCollectionRow.item_code, func.sum(TaxCollectionRow.amount_fen))
        .where(
            TaxCollectionRow.issuer == issuer,
            TaxCollectionRow.collected_on >= start,
            TaxCollectionRow.collected_on < end,
        )
        .group_by(TaxCollectionRow.item_code)
    )
    return {item: int(total) for item, total in session.execute(query)}


def tax_records_of(
    session: Session, issuer: str, period: str
) -> Iterator[tuple[str, date, Decimal]]:
    """(item, collection day, amount) of each record ``issuer`` has for the month ``period``."""
    start, end = collection_month(period)
    query = (
        select(
            TaxCollectionRow.item_code, TaxCollectionRow.collected_on, TaxCollectionRow.amount_fen
        )
        .where(
            TaxCollectionRow.issuer == issuer,
            TaxCollectionRow.collected_on >= start,
            TaxCollectionRow.collected_on < end,
        )
        .order_by(TaxCollectionRow.collected_on, TaxCollectionRow.voucher)
    )
    for item, on, fen in session.execute(query):
        yield item, on, from_fen(fen)


def tax_shares(
    session: Session, issuer: str, period: str, rules: SharingRules, own: Party
) -> dict[tuple[str, Party], int]:
    """(item code, party) → fen: the shares of ``issuer``'s tax-collected records of the month
    ``period`` under ``rules`` (situation ``tax_collected``), every party of an item present; the
    shape of ``receipts.settlement.shares.period_shares``, to be added to it. ``own`` is the party
    ``issuer`` is (``receipts.settlement.shares.own_party``), who keeps an unshared item."""
    out: dict[tuple[str, Party], int] = {}
    for item, on, amount in tax_records_of(session, issuer, period):
        version = rules.version_on(on)
        if any(key[0] == item for key in version.rows):
            shares = shares_of(amount, item, PayerSituation.TAX_COLLECTED, on, rules)
        else:
            shares = {p: (amount if p is own else Decimal("0.00")) for p in PARTY_ORDER}
        for party in PARTY_ORDER:
            key = (item, party)
            out[key] = out.get(key, 0) + to_fen(shares[party])
    return out
