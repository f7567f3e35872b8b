"""``voucher export``'s engine: vouchers from a list of entry sources over a span of months,
numbered and checked (docs/vouchers.md).

The sources (:mod:`receipts.vouchers.sources`) propose; the builder numbers each month's vouchers
in the order of the sources (``记-2026-10-001``, ``-002``, …) unless a source brings its own number
(a payer's), and refuses the whole export when any voucher's debits differ from its credits, so a
file is written only when every voucher in it balances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from zoneinfo import ZoneInfo

from receipts.domain.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.vouchers.accounts import IssuerAccounts, issuer_accounts, payer_accounts
from receipts.vouchers.model import Voucher, VoucherDraft
from receipts.vouchers.settlement_entries import SettlementShares
from receipts.vouchers.sources import EntrySource, MonthSpan, ReceiptIncome, payer_sources

__all__ = [
    "VoucherSet",
    "build_vouchers",
    "issuer_sources",
    "issuer_vouchers",
    "month_span",
    "payer_vouchers",
]

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class VoucherSet:
    """The vouchers of one export."""

    owner: str
    """Whose books: the federation's org code, or the payer's USCC."""
    side: str
    """``issuer`` or ``payer``."""
    span: MonthSpan
    """The months asked for."""
    vouchers: tuple[Voucher, ...]
    """By month, then number."""

    @property
    def total_fen(self) -> int:
        """The sum of every voucher's debits (equal to their credits)."""
        return sum(v.debit_fen for v in self.vouchers)

    def credits_to(self, code: str) -> int:
        """What the vouchers credit to the account ``code``, in fen (for ``stats`` to tie)."""
        return sum(
            line.credit_fen for v in self.vouchers for line in v.lines if line.account.code == code
        )


def month_span(first: str | None, last: str | None) -> MonthSpan:
    """``--from`` and ``--to`` as a span; a malformed month or a reversed span is an input
    error."""
    for value, option in ((first, "--from"), (last, "--to")):
        if value is not None and not _MONTH.fullmatch(value):
            raise InvalidInput(f"{option} {value!r} must be a month YYYY-MM")
    if first is not None and last is not None and first > last:
        raise InvalidInput(f"--from {first} is after --to {last}")
    return MonthSpan(first, last)


def build_vouchers(
    db: Database, sources: Sequence[EntrySource], span: MonthSpan, prefix: str
) -> tuple[Voucher, ...]:
    """Every voucher the ``sources`` propose for ``span``, numbered and checked."""
    with db.read() as session:
        drafts = [draft for source in sources for draft in source.drafts(session, span)]
    order = {source.name: n for n, source in enumerate(sources)}
    drafts.sort(key=lambda d: (d.month, order[d.source]))
    vouchers: list[Voucher] = []
    for month, of_month in groupby(drafts, key=lambda d: d.month):
        sequence = 0
        for draft in of_month:
            sequence += draft.number is None
            vouchers.append(Voucher.checked(_number(prefix, month, sequence, draft), draft))
    return tuple(vouchers)


def issuer_sources(
    accounts: IssuerAccounts, issuer: str, item_names: Mapping[str, str]
) -> list[EntrySource]:
    """A federation's entry sources, in the order their vouchers are numbered within a month:
    the income of its receipts, then what their shares owe to other parties (上解, 回拨)."""
    return [
        ReceiptIncome(accounts, issuer, item_names),
        SettlementShares(accounts, issuer, item_names),
    ]


def issuer_vouchers(
    db: Database, org_code: str, config: dict[str, object], catalogue: Catalogue, span: MonthSpan
) -> VoucherSet:
    """A federation's vouchers for the receipts it issued (with ``[vouchers]`` ``config``)."""
    accounts = issuer_accounts(config)
    sources = issuer_sources(accounts, org_code, catalogue.items)
    return VoucherSet(org_code, "issuer", span, build_vouchers(db, sources, span, accounts.prefix))


def payer_vouchers(
    db: Database,
    uscc: str,
    config: dict[str, object],
    catalogue: Catalogue,
    span: MonthSpan,
    zone: ZoneInfo,
) -> VoucherSet:
    """A payer's vouchers for its booked receipts (booked months in the calendar ``zone``)."""
    accounts = payer_accounts(config)
    sources = payer_sources(accounts, zone, catalogue.items)
    return VoucherSet(uscc, "payer", span, build_vouchers(db, sources, span, accounts.prefix))


def _number(prefix: str, month: str, sequence: int, draft: VoucherDraft) -> str:
    if draft.number is not None:
        return draft.number
    return f"{prefix}-{month}-{sequence:03d}"
