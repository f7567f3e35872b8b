"""Accounting vouchers (记账凭证) as data: lines of debits and credits in whole fen, and the one
rule every voucher keeps, debits equal credits (docs/vouchers.md).

A red receipt's amount is negative and stays on the side its original was on (红字冲销, the red
entry on the same side), so a line may carry a negative debit or credit; what must hold is that
the voucher's debits and credits add up to the same sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from receipts.errors import ReceiptError
from receipts.vouchers.accounts import Account

__all__ = ["Side", "UnbalancedVoucher", "Voucher", "VoucherDraft", "VoucherLine"]


class UnbalancedVoucher(ReceiptError):
    """A voucher whose debits and credits differ: an entry source is wrong (a bug), so nothing is
    written."""

    exit_code = 3


class Side(StrEnum):
    """Which side of the voucher a line is on."""

    DEBIT = "debit"
    """借方."""
    CREDIT = "credit"
    """贷方."""


@dataclass(frozen=True)
class VoucherLine:
    """One line (分录) of a voucher: one account, one side."""

    summary: str
    """摘要: what the line is for."""
    account: Account
    """The account debited or credited."""
    detail: str
    """明细: the item and 所属期, or what else identifies the line."""
    side: Side
    """借 or 贷."""
    fen: int
    """The amount, whole fen; negative for a red (reversing) entry."""

    @property
    def debit_fen(self) -> int:
        """The debit, 0 on a credit line."""
        return self.fen if self.side is Side.DEBIT else 0

    @property
    def credit_fen(self) -> int:
        """The credit, 0 on a debit line."""
        return self.fen if self.side is Side.CREDIT else 0


@dataclass(frozen=True)
class VoucherDraft:
    """A voucher as an entry source proposes it, before it is numbered and checked."""

    month: str
    """会计期间, ``YYYY-MM``: the month the voucher is booked in."""
    day: date
    """The voucher's date."""
    source: str
    """Which entry source made it (``receipts``, ``bookings``, ``settlement``)."""
    lines: tuple[VoucherLine, ...]
    """Its lines, debits first."""
    documents: int
    """附单据数: how many documents (receipts) it rests on."""
    number: str | None = None
    """A number the source already has (a payer's own voucher number from ``book --voucher``);
    None to be numbered by the builder."""


@dataclass(frozen=True)
class Voucher:
    """A numbered voucher whose debits equal its credits."""

    number: str
    """凭证号: ``记-2026-10-001`` (the voucher word, the month, a sequence), or the payer's own."""
    month: str
    """会计期间, ``YYYY-MM``."""
    day: date
    """Its date."""
    source: str
    """The entry source that made it."""
    lines: tuple[VoucherLine, ...]
    """Its lines."""
    documents: int
    """附单据数."""

    @property
    def debit_fen(self) -> int:
        """The sum of its debits."""
        return sum(line.debit_fen for line in self.lines)

    @property
    def credit_fen(self) -> int:
        """The sum of its credits."""
        return sum(line.credit_fen for line in self.lines)

    @classmethod
    def checked(cls, number: str, draft: VoucherDraft) -> Voucher:
        """``draft`` numbered ``number``, refused unless its debits equal its credits."""
        voucher = cls(number, draft.month, draft.day, draft.source, draft.lines, draft.documents)
        if not voucher.lines or voucher.debit_fen != voucher.credit_fen:
            raise UnbalancedVoucher(
                f"voucher {number} ({draft.source}, {draft.month}) does not balance: debits "
                f"{voucher.debit_fen} fen, credits {voucher.credit_fen} fen; nothing written"
            )
        return voucher
