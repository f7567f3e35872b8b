"""Tax-collected income for settlement (docs/tax.md "Income and settlement"): what the tax bureau
collected on ``issuer``'s behalf in a month, by item, and its shares between the tiers under the
situation ``tax_collected`` (:class:`receipts.domain.sharing.PayerSituation`), in the same shape
as the receipts' stored shares (``receipts.settlement.shares.period_shares``), so a settlement
statement adds the two.

The month of a tax record is the month the tax bureau collected it (``collected_on``), as a
receipt's is the month it was issued; its 所属期 stays on the record. Each record's shares were
computed when it was imported and stored with it
(:func:`receipts.issuing.tax_check.tax_record_shares`), so these are sums, as for receipts.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.payment_period import add_months, parse_payment_period
from receipts.domain.sharing import PARTY_ORDER, Party
from receipts.errors import InvalidInput
from receipts.ledger.models import TaxCollectionRow
from receipts.settlement.shares import Totals, own_totals

__all__ = ["collection_month", "tax_income", "tax_shares", "tax_totals"]


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


def tax_shares(session: Session, issuer: str, period: str) -> dict[tuple[str, Party], int]:
    """(item code, party) → fen: the stored shares of ``issuer``'s tax-collected records of the
    month ``period`` (by collection day), every party of an item present; the shape of
    ``receipts.settlement.shares.period_shares``, to be added to it key by key."""
    start, end = collection_month(period)
    columns = [getattr(TaxCollectionRow, f"{party.value}_fen") for party in PARTY_ORDER]
    query = (
        select(TaxCollectionRow.item_code, *(func.sum(c) for c in columns))
        .where(
            TaxCollectionRow.issuer == issuer,
            TaxCollectionRow.collected_on >= start,
            TaxCollectionRow.collected_on < end,
        )
        .group_by(TaxCollectionRow.item_code)
    )
    out: dict[tuple[str, Party], int] = {}
    for item, *sums in session.execute(query):
        for party, fen in zip(PARTY_ORDER, sums, strict=True):
            out[(item, party)] = int(fen or 0)
    return out


def tax_totals(session: Session, federation: str, period: str) -> Totals:
    """What ``federation``'s tax-collected records of the month ``period`` add to its settlement
    (``receipts.settlement.shares.period_totals``), each record counted as one of its own
    receipts: the parties above it are upward (上解), the grassroots union's share is returned
    (回拨), the parties between are downward, its own share is retained, the amount is income."""
    shares = tax_shares(session, federation, period).items()
    return own_totals(((party, fen) for (_, party), fen in shares), federation)
