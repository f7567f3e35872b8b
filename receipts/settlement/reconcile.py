"""The tier above's reconciliation of a child's settlement statement (docs/settlement.md,
"Reconciliation"): against its own copy of the child's receipts, their shares recomputed here
under this ledger's table, and against the bank credits it received, naming every difference.

Bank credits come from the caller (``receipts settle reconcile --bank FILE`` reads them with
:mod:`receipts.reconcile.bank_statement`, a layer above this one) as :class:`Payment` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from receipts.domain.money import format_amount, from_fen
from receipts.domain.sharing import PARTY_ORDER
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.settlement.shares import period_totals, sharing_in_force
from receipts.settlement.statement import (
    Statement,
    StatementReceipt,
    check_period,
    latest_statement,
    period_receipts,
    read_statement,
)
from receipts.settlement.tax_lines import StatementTax, recomputed_line, tax_lines_totals
from signing.trust import ChainValidator

__all__ = ["Difference", "DifferenceKind", "Payment", "SettlementReport", "reconcile_statement"]


class DifferenceKind(StrEnum):
    """What a difference is."""

    WRONG_SHARE = "wrong-share"
    """A receipt's share of a party in the statement is not the one recomputed here."""
    MISSING_RECEIPT = "missing-receipt"
    """A receipt in the statement and not in this ledger, or the other way round."""
    AMOUNT_MISMATCH = "amount-mismatch"
    """A receipt's total, the statement's upward total, or a transfer's credited amount."""
    UNPAID_TRANSFER = "unpaid-transfer"
    """A transfer the statement lists that no bank credit shows."""
    UNPAID_BALANCE = "unpaid-balance"
    """Less credited than the upward amount recomputed here."""


@dataclass(frozen=True)
class Difference:
    """One difference, in one line."""

    kind: DifferenceKind
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Payment:
    """A bank credit this federation received."""

    on: date
    fen: int
    reference: str
    """附言/用途: a settlement transfer names its reference there."""
    label: str
    """The bank's serial or the statement line, for the report."""


@dataclass(frozen=True)
class SettlementReport:
    """A reconciliation's figures and differences."""

    federation: str
    period: str
    stated_upward: int
    recomputed_upward: int
    credited: int | None
    """Credited against the statement's transfers; None when no bank credits were given."""
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.differences


def _yuan(fen: int) -> str:
    return format_amount(from_fen(fen))


def reconcile_statement(
    db: Database,
    me: str,
    child: str,
    period: str,
    validator: ChainValidator,
    payments: Sequence[Payment] | None,
) -> SettlementReport:
    """Reconcile the newest statement ``child`` sent for ``period`` (imported here)."""
    check_period(period)
    with db.read() as session:
        row = latest_statement(session, "in", child, period)
        if row is None:
            raise InvalidInput(f"no settlement statement of {child} for {period} was imported")
        statement = read_statement(row.document, validator)
        ours = {(r.code, r.number): r for r in period_receipts(session, child, period)}
        recomputed = period_totals(session, child, period).upward
        rules, _ = sharing_in_force(session)
    # The child's tax records do not travel: their lines are the statement's own, each share
    # recomputed here under this ledger's table (docs/settlement.md "Tax-collected income").
    taxes = [recomputed_line(x, rules, child) for x in statement.taxes]
    recomputed += tax_lines_totals(taxes, child).upward
    differences = _receipt_differences(statement, ours)
    differences += _tax_differences(statement.taxes, taxes)
    if statement.totals.upward != recomputed:
        differences.append(
            Difference(
                DifferenceKind.AMOUNT_MISMATCH,
                f"upward total of {child} for {period}",
                f"stated {_yuan(statement.totals.upward)}, recomputed {_yuan(recomputed)}",
            )
        )
    credited = None
    if payments is not None:
        credited = _payment_differences(statement, me, payments, recomputed, differences)
    return SettlementReport(
        child, period, statement.totals.upward, recomputed, credited, tuple(differences)
    )


def _receipt_differences(
    statement: Statement, ours: dict[tuple[str, int], StatementReceipt]
) -> list[Difference]:
    out: list[Difference] = []
    stated = {(r.code, r.number): r for r in statement.receipts}
    for key in sorted(set(stated) | set(ours)):
        theirs, mine = stated.get(key), ours.get(key)
        label = f"{key[0]}-{key[1]:010d}"
        if mine is None:
            out.append(
                Difference(
                    DifferenceKind.MISSING_RECEIPT,
                    label,
                    "in the statement, not in this ledger (not transmitted?)",
                )
            )
            continue
        if theirs is None:
            out.append(
                Difference(
                    DifferenceKind.MISSING_RECEIPT, label, "in this ledger, not in the statement"
                )
            )
            continue
        if theirs.total != mine.total:
            out.append(
                Difference(
                    DifferenceKind.AMOUNT_MISMATCH,
                    label,
                    f"total stated {_yuan(theirs.total)}, here {_yuan(mine.total)}",
                )
            )
        for party in PARTY_ORDER:
            if theirs.shares[party] != mine.shares[party]:
                out.append(
                    Difference(
                        DifferenceKind.WRONG_SHARE,
                        label,
                        f"{party.value} share stated {_yuan(theirs.shares[party])}, "
                        f"recomputed {_yuan(mine.shares[party])}",
                    )
                )
    return out


def _tax_differences(
    stated: tuple[StatementTax, ...], recomputed: list[StatementTax]
) -> list[Difference]:
    out: list[Difference] = []
    for theirs, mine in zip(stated, recomputed, strict=True):
        for party in PARTY_ORDER:
            if theirs.shares[party] != mine.shares[party]:
                out.append(
                    Difference(
                        DifferenceKind.WRONG_SHARE,
                        f"tax {theirs.voucher}",
                        f"{party.value} share stated {_yuan(theirs.shares[party])}, "
                        f"recomputed {_yuan(mine.shares[party])}",
                    )
                )
    return out


def _payment_differences(
    statement: Statement,
    me: str,
    payments: Sequence[Payment],
    owed: int,
    out: list[Difference],
) -> int:
    """Each transfer to ``me`` the statement lists against the credits; the amount credited."""
    credited = 0
    used: set[int] = set()
    for payee, paid_on, fen, reference in statement.transfers:
        if payee != me:
            continue
        # The transfer's reference is one word of the credit's 附言 (banks add their own).
        found = next(
            (
                n
                for n, p in enumerate(payments)
                if n not in used and reference in p.reference.split()
            ),
            None,
        )
        if found is None:
            out.append(
                Difference(
                    DifferenceKind.UNPAID_TRANSFER,
                    reference,
                    f"{_yuan(fen)} stated paid on {paid_on}, no bank credit with this reference",
                )
            )
            continue
        used.add(found)
        credit = payments[found]
        credited += credit.fen
        if credit.fen != fen:
            out.append(
                Difference(
                    DifferenceKind.AMOUNT_MISMATCH,
                    reference,
                    f"stated {_yuan(fen)}, credited {_yuan(credit.fen)} ({credit.label})",
                )
            )
    if credited < owed:
        out.append(
            Difference(
                DifferenceKind.UNPAID_BALANCE,
                f"{statement.federation} {statement.period}",
                f"owes {_yuan(owed)} upward (recomputed), {_yuan(credited)} credited for the "
                f"transfers the statement lists, {_yuan(owed - credited)} unpaid",
            )
        )
    return credited
