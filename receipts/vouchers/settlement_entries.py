"""The settlement entry source: what a federation's own receipts owe to the other parties (上解
upward, 回拨 to grassroots unions and shares of tiers below), from the shares stored with each
receipt line (docs/vouchers.md, "Entry sources and settlement entries"; docs/settlement.md).

A share owed to another party is not this federation's income: for each item, the shares of the
parties above its own are debited out of the item's income account and credited to 应付上级经费,
the shares of the grassroots union and of parties below its own to 应付下级经费. What stays in the
income account is its own share. Red receipts' shares are negative, so they reverse their
original's amounts owed in the month the red receipt was issued, as its income does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.sharing import PARTY_ORDER, Party
from receipts.ledger.models import ReceiptRow
from receipts.settlement.shares import own_party, period_shares
from receipts.vouchers.accounts import IssuerAccounts
from receipts.vouchers.model import Side, VoucherDraft, VoucherLine
from receipts.vouchers.sources import MonthSpan, month_end, month_words

__all__ = ["SettlementShares"]


class SettlementShares:
    """A federation's amounts owed from its own receipts' shares: a voucher per month of issue
    (none for a month whose receipts owe nothing to anyone)."""

    name = "settlement"

    def __init__(self, accounts: IssuerAccounts, issuer: str, item_names: Mapping[str, str]):
        self._accounts = accounts
        self._issuer = issuer
        self._names = item_names
        mine = PARTY_ORDER.index(own_party(issuer))
        self._above = PARTY_ORDER[mine + 1 :]
        self._below = PARTY_ORDER[:mine]

    def drafts(self, session: Session, span: MonthSpan) -> Iterator[VoucherDraft]:
        months = select(ReceiptRow.period).where(ReceiptRow.issuer == self._issuer).distinct()
        if span.first is not None:
            months = months.where(ReceiptRow.period >= span.first)
        if span.last is not None:
            months = months.where(ReceiptRow.period <= span.last)
        for month in sorted(session.scalars(months)):
            draft = self._voucher(month, period_shares(session, self._issuer, month))
            if draft is not None:
                yield draft

    def _voucher(self, month: str, shares: Mapping[tuple[str, Party], int]) -> VoucherDraft | None:
        debits, upward, downward = [], 0, 0
        for item in sorted({item for item, _party in shares}):
            up = sum(shares.get((item, party), 0) for party in self._above)
            down = sum(shares.get((item, party), 0) for party in self._below)
            name = self._names.get(item, "") or f"项目 {item}"
            income = self._accounts.income_of(item)
            detail = f"{item} {name} {month_words(month)}"
            if up:
                debits.append(VoucherLine(f"应上解上级 {name}", income, detail, Side.DEBIT, up))
            if down:
                summary = f"应回拨基层工会及下级 {name}"
                debits.append(VoucherLine(summary, income, detail, Side.DEBIT, down))
            upward += up
            downward += down
        credits = []
        if upward:
            summary = f"上解 {month_words(month)}"
            credits.append(VoucherLine(summary, self._accounts.upward, "", Side.CREDIT, upward))
        if downward:
            summary = f"回拨 {month_words(month)}"
            credits.append(VoucherLine(summary, self._accounts.downward, "", Side.CREDIT, downward))
        if not debits:
            return None
        return VoucherDraft(month, month_end(month), self.name, (*debits, *credits), 0)
