"""Entry sources: where the lines of vouchers come from (docs/vouchers.md, "Entry sources").

Every source has the same small interface, :class:`EntrySource`: given a read session and the
months asked for, it proposes vouchers (:class:`~receipts.vouchers.model.VoucherDraft`), each one
balanced by construction; the builder (:mod:`receipts.vouchers.builder`) numbers them and checks
the balance again. Two sources exist:

- :class:`ReceiptIncome`, at a federation: one voucher a month of issue, debiting the bank with
  the month's receipts and crediting each item's income account, a line per item and 所属期; red
  receipts on lines of their own, negative, in the month they were issued (as ``stats`` counts
  them, so the income ties to ``stats``' net).
- :class:`BookedReceipts`, at a payer: one voucher per voucher number the accountant gave
  ``book --voucher``, in the month booked, debiting each item's account (应付职工薪酬 for 工会经费)
  and crediting the bank.

Settlement entries (上解 and 回拨, from the shares ``receipts.settlement`` stores) are a third
source of the same shape, :class:`receipts.vouchers.settlement_entries.SettlementShares`; a
federation's list is :func:`receipts.vouchers.builder.issuer_sources`.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from receipts.domain.payment_period import parse_payment_period
from receipts.errors import InvalidInput
from receipts.ledger.models import Booking, ReceiptItemRow, ReceiptRow
from receipts.vouchers.accounts import Account, IssuerAccounts, PayerAccounts
from receipts.vouchers.model import Side, VoucherDraft, VoucherLine

__all__ = [
    "BookedReceipts",
    "EntrySource",
    "MonthSpan",
    "ReceiptIncome",
    "month_end",
    "month_words",
    "payer_sources",
]

_RED = "reversal"


@dataclass(frozen=True)
class MonthSpan:
    """Months ``first`` to ``last`` (``YYYY-MM``, inclusive); None leaves that end open."""

    first: str | None = None
    """First month, or None."""
    last: str | None = None
    """Last month, or None."""

    def __contains__(self, month: object) -> bool:
        return (
            isinstance(month, str)
            and (self.first is None or month >= self.first)
            and (self.last is None or month <= self.last)
        )


class EntrySource(Protocol):
    """Proposes the vouchers of one kind of business over a span of months."""

    name: str
    """Named in every voucher it proposes (the ``source`` column)."""

    def drafts(self, session: Session, span: MonthSpan) -> Iterator[VoucherDraft]:
        """The vouchers of ``span``, in any order; each must balance."""
        ...


def payer_sources(
    accounts: PayerAccounts, zone: ZoneInfo, item_names: Mapping[str, str]
) -> list[EntrySource]:
    """A payer's entry sources."""
    return [BookedReceipts(accounts, zone, item_names)]


class ReceiptIncome:
    """A federation's income from the receipts it issued: a voucher per month of issue."""

    name = "receipts"

    def __init__(self, accounts: IssuerAccounts, issuer: str, item_names: Mapping[str, str]):
        self._accounts = accounts
        self._issuer = issuer
        self._names = item_names

    def drafts(self, session: Session, span: MonthSpan) -> Iterator[VoucherDraft]:
        mine = [ReceiptRow.issuer == self._issuer]
        if span.first is not None:
            mine.append(ReceiptRow.period >= span.first)
        if span.last is not None:
            mine.append(ReceiptRow.period <= span.last)
        # The bank side sums whole receipts, the income side their lines: the builder's balance
        # check then also proves that every receipt's lines add up to its total.
        totals: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
        query = (
            select(
                ReceiptRow.period,
                ReceiptRow.kind,
                func.count(),
                func.coalesce(func.sum(ReceiptRow.total_fen), 0),
            )
            .where(*mine)
            .group_by(ReceiptRow.period, ReceiptRow.kind)
        )
        for month, kind, count, fen in session.execute(query):
            totals[month][kind] = (int(count), int(fen))
        lines: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
        by_line = (
            select(
                ReceiptRow.period,
                ReceiptRow.kind,
                ReceiptItemRow.item_code,
                ReceiptItemRow.item_period,
                func.sum(ReceiptItemRow.amount_fen),
            )
            .join(
                ReceiptItemRow,
                and_(
                    ReceiptItemRow.code == ReceiptRow.code,
                    ReceiptItemRow.number == ReceiptRow.number,
                ),
            )
            .where(*mine)
            .group_by(
                ReceiptRow.period,
                ReceiptRow.kind,
                ReceiptItemRow.item_code,
                ReceiptItemRow.item_period,
            )
        )
        for month, kind, item, paid_for, fen in session.execute(by_line):
            lines[month].append((kind, item, paid_for, int(fen)))
        for month in sorted(totals):
            yield self._voucher(month, totals[month], lines[month])

    def _voucher(
        self,
        month: str,
        totals: Mapping[str, tuple[int, int]],
        lines: list[tuple[str, str, str, int]],
    ) -> VoucherDraft:
        bank = self._accounts.bank
        words = month_words(month)
        debits = []
        for kind, (count, fen) in sorted(totals.items(), key=lambda kv: kv[0] == _RED):
            summary = (
                f"冲红 {words}红字收据 {count} 张"
                if kind == _RED
                else f"收到工会经费等 {words}收据 {count} 张"
            )
            debits.append(VoucherLine(summary, bank, "", Side.DEBIT, fen))
        credits = []
        for kind, item, paid_for, fen in sorted(lines, key=_line_order):
            name = self._names.get(item, "")
            summary = f"{'冲红 ' if kind == _RED else ''}{name or '项目 ' + item}收入"
            detail = f"{item} {name} 所属期 {paid_for}".replace("  ", " ")
            credits.append(
                VoucherLine(summary, self._accounts.income_of(item), detail, Side.CREDIT, fen)
            )
        documents = sum(count for count, _ in totals.values())
        return VoucherDraft(month, month_end(month), self.name, (*debits, *credits), documents)


class BookedReceipts:
    """A payer's booked receipts: a voucher per voucher number given ``book --voucher``, in the
    month (of the workspace's calendar) it was booked; undone bookings are left out."""

    name = "bookings"

    def __init__(self, accounts: PayerAccounts, zone: ZoneInfo, item_names: Mapping[str, str]):
        self._accounts = accounts
        self._zone = zone
        self._names = item_names

    def drafts(self, session: Session, span: MonthSpan) -> Iterator[VoucherDraft]:
        query = (
            select(
                Booking.voucher,
                Booking.booked_at,
                Booking.code,
                Booking.number,
                ReceiptRow.kind,
                ReceiptItemRow.item_code,
                ReceiptItemRow.item_period,
                ReceiptItemRow.amount_fen,
            )
            .join(
                ReceiptRow,
                and_(ReceiptRow.code == Booking.code, ReceiptRow.number == Booking.number),
            )
            .join(
                ReceiptItemRow,
                and_(ReceiptItemRow.code == Booking.code, ReceiptItemRow.number == Booking.number),
            )
            .where(Booking.undone_at.is_(None))
            .order_by(Booking.id, ReceiptItemRow.line)
        )
        groups: dict[tuple[str, str], list[tuple[date, str, str, str, str, int]]] = defaultdict(
            list
        )
        for voucher, at, code, number, kind, item, paid_for, fen in session.execute(query):
            day = at.astimezone(self._zone).date()
            month = f"{day:%Y-%m}"
            if month in span:
                ref = f"{code}-{number:010d}"
                groups[(month, voucher)].append((day, ref, kind, item, paid_for, int(fen)))
        for (month, voucher), rows in sorted(groups.items()):
            yield self._voucher(month, voucher, rows)

    def _voucher(
        self, month: str, number: str, rows: list[tuple[date, str, str, str, str, int]]
    ) -> VoucherDraft:
        debits, bank_fen = [], dict[bool, int]()
        for _day, ref, kind, item, paid_for, fen in rows:
            red = kind == _RED
            name = self._names.get(item, "") or f"项目 {item}"
            summary = f"{'冲红 ' if red else ''}缴纳{name} 收据 {ref}"
            account: Account = self._accounts.account_of(item)
            debits.append(
                VoucherLine(summary, account, f"{name} 所属期 {paid_for}", Side.DEBIT, fen)
            )
            bank_fen[red] = bank_fen.get(red, 0) + fen
        bank = self._accounts.bank
        credits = [
            VoucherLine(f"{'冲红 ' if red else ''}支付工会经费等", bank, "", Side.CREDIT, fen)
            for red, fen in sorted(bank_fen.items())
        ]
        documents = len({ref for _d, ref, *_rest in rows})
        day = max(row[0] for row in rows)
        return VoucherDraft(month, day, self.name, (*debits, *credits), documents, number)


def _line_order(line: tuple[str, str, str, int]) -> tuple[bool, str, str, str, str]:
    kind, item, paid_for, _fen = line
    try:
        period = parse_payment_period(paid_for)
        first, last = period.first_month.isoformat(), period.last_month.isoformat()
    except InvalidInput:  # a damaged row is for ``receipts audit``; listed last
        first = last = "~"
    return (kind == _RED, item, first, last, paid_for)


def month_end(month: str) -> date:
    """The last day of ``month`` (``YYYY-MM``): the date of a month's voucher."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, calendar.monthrange(year, number)[1])


def month_words(month: str) -> str:
    """``2026年10月``."""
    return f"{int(month[:4])}年{int(month[5:7])}月"
