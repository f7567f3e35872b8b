"""Transfers made for a period's settlement, recorded when made, and the balance still unpaid
(docs/settlement.md, "Transfers and the balance")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from receipts.domain import divisions
from receipts.domain.money import format_amount, from_fen, parse_amount, to_fen
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import ReceiptShareRow, SettlementTransferRow
from receipts.settlement.statement import check_period
from receipts.settlement.tax_lines import settled_totals, tax_months

__all__ = ["GRASSROOTS", "Balance", "balances", "record_transfer"]

#: The payee of 回拨 transfers: the grassroots unions of the period's payers, as one account.
GRASSROOTS = "grassroots"
_REFERENCE = re.compile(r"[0-9A-Za-z._:/\-]{1,64}")


def record_transfer(
    db: Database,
    federation: str,
    payee: str,
    period: str,
    amount: str,
    paid_on: date,
    reference: str,
    signer: HeadSigner | None,
) -> int:
    """Record a transfer ``federation`` made (a ``settlement.transfer`` event); its event's
    sequence number. ``payee`` is its upstream's code or ``grassroots``."""
    check_period(period)
    upstream = divisions.upstream_of(federation)
    if payee not in (upstream, GRASSROOTS):
        raise InvalidInput(f"payee {payee!r} must be {upstream} (the upstream) or {GRASSROOTS}")
    fen = to_fen(parse_amount(amount))
    if fen <= 0:
        raise InvalidInput(f"transfer amount {amount} must be positive")
    if not _REFERENCE.fullmatch(reference):
        raise InvalidInput(f"reference {reference!r} must be 1-64 letters, digits or ._:/-")
    with db.write() as (session, state):
        twice = session.scalar(
            select(SettlementTransferRow.event_seq).where(
                SettlementTransferRow.federation == federation,
                SettlementTransferRow.reference == reference,
            )
        )
        if twice is not None:
            raise InvalidInput(f"a transfer with reference {reference} was recorded already")
        event = append_event(
            session,
            state,
            "settlement.transfer",
            {
                "federation": federation,
                "payee": payee,
                "period": period,
                "amount": format_amount(from_fen(fen)),
                "paid_on": paid_on.isoformat(),
                "reference": reference,
            },
        )
        session.add(
            SettlementTransferRow(
                event_seq=event.seq,
                federation=federation,
                payee=payee,
                period=period,
                amount_fen=fen,
                paid_on=paid_on,
                reference=reference,
            )
        )
        sign_head(session, state, signer)
    return event.seq


@dataclass(frozen=True)
class Balance:
    """What a federation owes one payee for one period, what it paid, what is left."""

    period: str
    payee: str
    owed: int
    paid: int

    @property
    def unpaid(self) -> int:
        """Owed minus paid (negative: overpaid)."""
        return self.owed - self.paid


def balances(db: Database, federation: str, period: str | None = None) -> list[Balance]:
    """Per period with shares, tax records or transfers (or just ``period``): the upward and
    grassroots balances, from the stored shares of the receipts and tax records (recomputed now,
    not from a statement: the figures ``settle statement`` states) and the transfers."""
    upstream = divisions.upstream_of(federation)
    with db.read() as session:
        periods = set(
            session.scalars(
                select(ReceiptShareRow.period)
                .where(ReceiptShareRow.issuer == federation)
                .distinct()
            )
        )
        periods |= tax_months(session, federation)  # tax-collected income is owed on too
        paid: dict[tuple[str, str], int] = {}
        for p, payee, fen in session.execute(
            select(
                SettlementTransferRow.period,
                SettlementTransferRow.payee,
                func.sum(SettlementTransferRow.amount_fen),
            )
            .where(SettlementTransferRow.federation == federation)
            .group_by(SettlementTransferRow.period, SettlementTransferRow.payee)
        ):
            paid[(p, payee)] = int(fen)
            periods.add(p)
        if period is not None:
            periods = {check_period(period)}
        out = []
        for p in sorted(periods):
            totals = settled_totals(session, federation, p)
            if upstream is not None:
                out.append(Balance(p, upstream, totals.upward, paid.get((p, upstream), 0)))
            out.append(Balance(p, GRASSROOTS, totals.grassroots, paid.get((p, GRASSROOTS), 0)))
    return out
