"""Shares stored with receipts (docs/settlement.md, "Interface other areas use"): a period's
shares by item and party, the parties a federation owes, and the sharing table it adopts.

Issuing computes and stores the shares (:mod:`receipts.issuing.receipt_rows`, below this layer);
this module reads them, always as one ``GROUP BY`` over ``receipt_shares``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from receipts.domain.sharing import PARTY_ORDER, Party, PayerSituation, SharingRules, supersede
from receipts.issuing.effective_rules import sharing_in_force, sharing_rules_of
from receipts.issuing.receipt_rows import Sharing, default_situation, own_party, shares_for
from receipts.ledger.models import ReceiptRow, ReceiptShareRow

__all__ = [
    "PARTY_COLUMNS",
    "PayerSituation",
    "Sharing",
    "SharingRules",
    "Totals",
    "check_supersedes",
    "covered",
    "default_situation",
    "own_party",
    "own_totals",
    "period_shares",
    "period_totals",
    "shares_for",
    "sharing_in_force",
    "sharing_rules_of",
]

#: The ``receipt_shares`` column of each party, in :data:`PARTY_ORDER`.
PARTY_COLUMNS = {party: getattr(ReceiptShareRow, f"{party.value}_fen") for party in PARTY_ORDER}


def covered(federation: str) -> object:
    """The SQL condition on ``receipt_shares.issuer`` for the receipts whose upward shares pass
    through ``federation``: its own, and for a province or the national federation, those of
    every federation below it (their copies came up by transmission)."""
    party = own_party(federation)
    if party is Party.NATIONAL:
        return ReceiptShareRow.issuer.is_not(None)
    if party is Party.PROVINCE:
        return ReceiptShareRow.issuer.startswith(federation[:2], autoescape=True)
    return ReceiptShareRow.issuer == federation


def period_shares(session: Session, issuer_code: str, period: str) -> dict[tuple[str, Party], int]:
    """(item code, party) → fen: the stored shares of ``issuer_code``'s receipts (red ones
    negative) issued in ``period`` (``YYYY-MM``, the issuer's local month). Every party of every
    item with a receipt appears, zeros included."""
    query = (
        select(ReceiptShareRow.item_code, *(func.sum(c) for c in PARTY_COLUMNS.values()))
        .where(ReceiptShareRow.issuer == issuer_code, ReceiptShareRow.period == period)
        .group_by(ReceiptShareRow.item_code)
    )
    out: dict[tuple[str, Party], int] = {}
    for item, *sums in session.execute(query):
        for party, fen in zip(PARTY_ORDER, sums, strict=True):
            out[(item, party)] = int(fen or 0)
    return out


@dataclass(frozen=True)
class Totals:
    """What a federation owes for a period, in fen (docs/settlement.md, "Statements")."""

    upward: int
    """上解: the shares of the parties above it, of its own receipts and of those below it."""
    grassroots: int
    """回拨: the grassroots unions' shares of its own receipts."""
    downward: int
    """The shares of federations between the grassroots union and it, of its own receipts."""
    retained: int
    """Its own share of its own receipts and of those below it."""
    income: int
    """The amount of its own receipts."""


def own_totals(shares: Iterable[tuple[Party, int]], federation: str) -> Totals:
    """What shares of records counted as ``federation``'s own receipts (the tax bureau's
    collections: ``receipts.tax.income`` and a statement's ``Tax`` lines) add to its settlement:
    the parties above it are upward (上解), the grassroots union's share is returned (回拨), the
    parties between are downward, its own share is retained, and every share is income."""
    mine = PARTY_ORDER.index(own_party(federation))
    upward = grassroots = downward = retained = income = 0
    for party, fen in shares:
        rank = PARTY_ORDER.index(party)
        income += fen
        if rank > mine:
            upward += fen
        elif rank == mine:
            retained += fen
        elif party is Party.GRASSROOTS:
            grassroots += fen
        else:
            downward += fen
    return Totals(upward, grassroots, downward, retained, income)


def period_totals(session: Session, federation: str, period: str) -> Totals:
    """``federation``'s settlement for ``period``: one GROUP BY over the stored shares (own
    receipts apart from those below it; a city-tier federation has only its own), then the
    parties summed by where they stand. The income is the parties' sum (a CHECK holds each
    row's parties to its amount), so only the five party columns are summed."""
    sums = [func.sum(c) for c in PARTY_COLUMNS.values()]
    party = own_party(federation)
    if party in (Party.CITY, Party.COUNTY):
        query = select(literal(True), *sums).where(
            ReceiptShareRow.issuer == federation, ReceiptShareRow.period == period
        )
    else:
        own = ReceiptShareRow.issuer == federation
        query = (
            select(own.label("own"), *sums)
            .where(ReceiptShareRow.period == period, covered(federation))  # type: ignore[arg-type]
            .group_by(own)
        )
    mine = PARTY_ORDER.index(party)
    upward = grassroots = downward = retained = income = 0
    for is_own, *fen in session.execute(query):
        if all(f is None for f in fen):
            continue  # no receipt: the aggregate's one row of NULLs
        by_party = dict(zip(PARTY_ORDER, (int(f or 0) for f in fen), strict=True))
        upward += sum(by_party[p] for p in PARTY_ORDER[mine + 1 :])
        retained += by_party[PARTY_ORDER[mine]]
        if is_own:
            income += sum(by_party.values())
            grassroots += by_party[Party.GRASSROOTS]
            downward += sum(by_party[p] for p in PARTY_ORDER[1:mine])
    return Totals(upward, grassroots, downward, retained, income)


def last_issue_day(session: Session, zone: ZoneInfo) -> date | None:
    """The last day (in ``zone``, the issuers' calendar) a receipt in this ledger was issued on:
    its own and the copies of those below it, all shared under this ledger's table."""
    newest = session.scalar(select(func.max(ReceiptRow.issued_at)))
    return None if newest is None else newest.astimezone(zone).date()


def check_supersedes(session: Session, zone: ZoneInfo, new: SharingRules) -> None:
    """Refuse ``new`` when it would change a version already used for receipts in this ledger
    (``supersede``: a rule change applies from its date only)."""
    current, _ = sharing_in_force(session)
    last = last_issue_day(session, zone)
    if last is not None:
        supersede(current, new, last)
