"""The tax bureau's transfers reconciled against bank credits (docs/tax.md "Transfers").

The tax bureau pays what it collected over to the federation's account (划缴) some days later,
in one credit per collection day (``per="day"``, the default) or one per month (``per="month"``).
For a month of collection days, the expected transfers are the imported records' sums per day
(or the month's sum); the bank credits considered are those whose payer name contains
``bureau`` (``税务`` by default: 国家税务总局…税务局) dated from the month's first day to
``window_days`` after its last.

Matching, in this order, each step only among what is left:

1. a transfer and a credit of the same amount, the credit on or up to ``window_days`` after the
   transfer's last collection day, taken in date order;
2. a transfer and the only credit left in its window, of another amount: *differing*, the
   difference named;
3. what is left is named: a transfer with no credit is *missing*; a bureau credit no transfer
   explains is *unexplained*.

The statement is read by the command (``receipts.reconcile.bank_statement``); credits reach this
module as anything with the fields of :class:`BankCredit`, since the workflows of one layer do not
import each other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import format_amount, from_fen
from receipts.findings import FindingCode
from receipts.ledger.models import TaxCollectionRow
from receipts.tax.income import collection_month

__all__ = [
    "BankCredit",
    "ExpectedTransfer",
    "TransferDifference",
    "TransferReport",
    "expected_transfers",
    "match_transfers",
]

Per = Literal["day", "month"]


class BankCredit(Protocol):
    """A bank statement's credit, as :class:`receipts.reconcile.bank_statement.Credit` has it."""

    @property
    def line(self) -> int: ...
    @property
    def on(self) -> date: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def payer_name(self) -> str: ...
    @property
    def serial(self) -> str: ...
    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class ExpectedTransfer:
    """What the tax bureau owes for a collection day (or month)."""

    label: str
    """The day (``2026-10-08``) or month (``2026-10``)."""
    last_day: date
    """The last collection day it covers; the credit comes on or after it."""
    amount: Decimal
    """The records' sum, yuan."""
    records: int
    """How many records."""


@dataclass(frozen=True)
class TransferDifference:
    """A difference, named."""

    code: FindingCode
    """``tax-transfer-missing``, ``tax-transfer-differing`` or ``tax-credit-unexplained``
    (docs/finding-codes.md)."""
    message: str
    """In words, with dates, amounts and the credit's serial or line."""
    transfer: ExpectedTransfer | None
    """The transfer concerned."""
    credit: BankCredit | None
    """The credit concerned."""


@dataclass(frozen=True)
class TransferReport:
    """The outcome of reconciling a month's transfers."""

    matched: tuple[tuple[ExpectedTransfer, BankCredit], ...]
    """Transfers with the credit that paid them."""
    differences: tuple[TransferDifference, ...]
    """Everything that does not agree."""
    expected_total: Decimal
    """The records' sum."""
    credited_total: Decimal
    """The bureau's credits' sum in the window."""


def expected_transfers(
    session: Session, issuer: str, month: str, per: Per = "day"
) -> list[ExpectedTransfer]:
    """The transfers ``issuer``'s imported records of the month ``month`` call for."""
    start, end = collection_month(month)
    query = (
        select(TaxCollectionRow.collected_on, TaxCollectionRow.amount_fen)
        .where(
            TaxCollectionRow.issuer == issuer,
            TaxCollectionRow.collected_on >= start,
            TaxCollectionRow.collected_on < end,
        )
        .order_by(TaxCollectionRow.collected_on)
    )
    sums: dict[str, list[int]] = {}
    last: dict[str, date] = {}
    for on, fen in session.execute(query):
        key = on.isoformat() if per == "day" else f"{on:%Y-%m}"
        sums.setdefault(key, []).append(fen)
        last[key] = max(last.get(key, on), on)
    return [
        ExpectedTransfer(key, last[key], from_fen(sum(fens)), len(fens))
        for key, fens in sorted(sums.items())
    ]


def _bureau(credit: BankCredit, bureau: str) -> bool:
    name = unicodedata.normalize("NFKC", credit.payer_name)
    return unicodedata.normalize("NFKC", bureau) in name


def _credit_label(credit: BankCredit) -> str:
    return f"serial {credit.serial}" if credit.serial else f"statement line {credit.line}"


def match_transfers(
    expected: Sequence[ExpectedTransfer],
    credits: Sequence[BankCredit],
    month: str,
    *,
    bureau: str = "税务",
    window_days: int = 10,
) -> TransferReport:
    """Match ``expected`` with the bureau's ``credits`` by the rules above."""
    start, end = collection_month(month)
    window = timedelta(days=window_days)
    pool = [
        c
        for c in credits
        if _bureau(c, bureau) and start <= c.on <= end - timedelta(days=1) + window
    ]
    pool.sort(key=lambda c: (c.on, c.line))
    left = list(range(len(pool)))
    matched: list[tuple[ExpectedTransfer, BankCredit]] = []
    open_: list[ExpectedTransfer] = []

    def in_window(transfer: ExpectedTransfer, credit: BankCredit) -> bool:
        return transfer.last_day <= credit.on <= transfer.last_day + window

    for transfer in expected:
        found = next(
            (i for i in left if pool[i].amount == transfer.amount and in_window(transfer, pool[i])),
            None,
        )
        if found is None:
            open_.append(transfer)
        else:
            left.remove(found)
            matched.append((transfer, pool[found]))
    differences: list[TransferDifference] = []
    for transfer in open_:
        near = [i for i in left if in_window(transfer, pool[i])]
        credit = pool[near[0]] if len(near) == 1 else None
        if credit is not None:
            left.remove(near[0])
        differences.append(_unmatched_transfer(transfer, credit, window_days))
    differences += [_unexplained(pool[i]) for i in left]
    return TransferReport(
        tuple(matched),
        tuple(differences),
        sum((t.amount for t in expected), Decimal("0.00")),
        sum((c.amount for c in pool), Decimal("0.00")),
    )


def _unmatched_transfer(
    transfer: ExpectedTransfer, credit: BankCredit | None, window_days: int
) -> TransferDifference:
    """A transfer without its credit: ``differing`` from the only credit left in its window,
    else ``missing``."""
    what = (
        f"the tax bureau's transfer for {transfer.label} ({transfer.records} record(s), "
        f"{format_amount(transfer.amount)})"
    )
    if credit is None:
        return TransferDifference(
            FindingCode.TAX_TRANSFER_MISSING,
            f"{what}: no credit from the tax bureau of that amount within {window_days} day(s) "
            f"after {transfer.last_day}",
            transfer,
            None,
        )
    gap = credit.amount - transfer.amount
    side = "more" if gap > 0 else "short"
    return TransferDifference(
        FindingCode.TAX_TRANSFER_DIFFERING,
        f"{what} arrived as {format_amount(credit.amount)} on {credit.on} "
        f"({_credit_label(credit)}): {format_amount(abs(gap))} {side}",
        transfer,
        credit,
    )


def _unexplained(credit: BankCredit) -> TransferDifference:
    return TransferDifference(
        FindingCode.TAX_CREDIT_UNEXPLAINED,
        f"credit of {format_amount(credit.amount)} on {credit.on} from {credit.payer_name} "
        f"({_credit_label(credit)}): no imported tax records call for it",
        None,
        credit,
    )
