"""The layout of the tax bureau's collection records (税务代收, docs/tax.md "The file"): which
columns, under which Chinese or English header names, and the rules each cell is held to.

One record is one payer's dues for one item and 所属期, collected on a day under a tax voucher
(完税凭证号). Every cell of a row is checked and every problem reported at its row and column,
so a clerk fixes a file in one pass; a record is made only from a row without problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from receipts.batch.fields import BatchProblem
from receipts.domain.catalogue import Catalogue
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.domain.money import format_amount, parse_amount
from receipts.domain.payment_period import PaymentPeriod, add_months, parse_payment_period
from receipts.errors import InvalidInput

__all__ = [
    "COLUMNS",
    "DEFAULT_ITEM",
    "TaxRecord",
    "column_of",
    "parse_day",
    "record_from",
]

#: Each column's canonical name → every header name accepted for it (compared after removing
#: spaces and, for English names, case). The Chinese names are those of the tax bureau's
#: 缴费明细 exports (docs/tax.md lists them).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "uscc": (
        "uscc",
        "payer_uscc",
        "统一社会信用代码",
        "社会信用代码",
        "纳税人识别号",
        "缴费人识别号",
    ),
    "payer_name": ("payer_name", "纳税人名称", "缴费人名称", "单位名称"),
    "item": ("item", "item_code", "征收品目", "品目", "收费项目"),
    "period": ("period", "所属期", "费款所属期", "税款所属期"),
    "period_from": ("period_from", "所属期起", "费款所属期起", "税款所属期起"),
    "period_to": ("period_to", "所属期止", "费款所属期止", "税款所属期止"),
    "base": ("base", "计征基数", "计费依据", "计税依据", "缴费基数"),
    "amount": ("amount", "实缴金额", "实缴(退)金额", "金额", "缴费金额"),
    "voucher": ("voucher", "完税凭证号", "电子税票号码", "税票号码", "凭证号"),
    "collected_on": ("collected_on", "date", "入库日期", "缴款日期", "征收日期"),
}
#: Columns every file must have (and ``period``, or both ``period_from`` and ``period_to``).
REQUIRED = ("uscc", "base", "amount", "voucher", "collected_on")
#: The item of a file without an ``item`` column: 工会经费(拨缴), which the tax bureau collects.
DEFAULT_ITEM = "01"

_ALIASES = {
    re.sub(r"\s+", "", alias).casefold(): column
    for column, aliases in COLUMNS.items()
    for alias in aliases
}
_VOUCHER = re.compile(r"[0-9A-Za-z-]{6,32}")
_DAY = re.compile(r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T]00:00(:00)?)?")


@dataclass(frozen=True)
class TaxRecord:
    """One collection record, validated."""

    line: int
    """Its row in the file (as Excel numbers it, or the CSV line)."""
    uscc: str
    """The payer's 统一社会信用代码, compact upper case."""
    payer_name: str | None
    """The payer's name as the tax bureau has it, when the file gives it."""
    item: str
    """The catalogue item collected (``01`` 工会经费(拨缴) unless the file says otherwise)."""
    period: PaymentPeriod
    """所属期."""
    base: Decimal
    """计征基数: the wage base the amount was computed on, yuan."""
    amount: Decimal
    """Amount collected, yuan, whole fen, positive."""
    voucher: str
    """完税凭证号 (or 电子税票号码): unique, forever."""
    collected_on: date
    """The day the tax bureau collected it (入库/缴款日期)."""
    columns: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    """Each column's number in the file, to name where a later check finds a problem."""

    def payload(self) -> dict[str, Any]:
        """The record as the ``tax.imported`` event states it (amounts as text)."""
        return {
            "voucher": self.voucher,
            "uscc": self.uscc,
            "payer_name": self.payer_name,
            "item": self.item,
            "period": self.period.text,
            "base": format_amount(self.base),
            "amount": format_amount(self.amount),
            "collected_on": self.collected_on.isoformat(),
        }


def column_of(header: str) -> str | None:
    """The canonical column a header cell names, or None."""
    return _ALIASES.get(re.sub(r"\s+", "", header).casefold())


def parse_day(text: str) -> date | None:
    """``2026-10-08``, ``2026/10/08``, ``2026.10.08`` or ``20261008`` (a midnight time after it
    is allowed, as spreadsheets write dates); None for anything else."""
    match = _DAY.fullmatch(text.strip())
    if match is None:
        return None
    year, _, month, day, compact_month, compact_day, _ = match.groups()
    try:
        return date(int(year), int(month or compact_month), int(day or compact_day))
    except ValueError:
        return None


def record_from(
    cells: Mapping[str, str],
    positions: Mapping[str, int],
    where: tuple[str, int],
    catalogue: Catalogue,
    problems: list[BatchProblem],
) -> TaxRecord | None:
    """The record of one row (``cells`` by canonical column, ``positions`` each column's number
    in the file); every bad cell becomes a problem at ``where`` (file, row) and its column."""
    name, line = where
    before = len(problems)

    def bad(column: str, message: str) -> None:
        problems.append(BatchProblem(name, line, positions.get(column), f"{column}: {message}"))

    def checked(column: str, check: Any) -> Any:
        text = cells.get(column, "").strip()
        if not text:
            bad(column, "is required")
            return None
        try:
            return check(text)
        except InvalidInput as error:
            bad(column, str(error))
            return None

    uscc = checked("uscc", validate_uscc)
    payer_name = None
    if cells.get("payer_name", "").strip():
        payer_name = checked("payer_name", lambda t: check_text(t, "payer name", maximum=100))
    item = DEFAULT_ITEM
    if "item" in positions:
        item = checked("item", lambda t: _item(t, catalogue))
    period = _period(cells, positions, bad)
    base = checked("base", parse_amount)
    amount = checked("amount", parse_amount)
    if amount is not None and amount == 0:
        bad("amount", "must be more than 0.00 (refunds are not imported)")
    if base is not None and amount is not None and amount > base:
        bad("amount", f"{format_amount(amount)} exceeds the base {format_amount(base)}")
    voucher = checked("voucher", _voucher)
    collected_on = checked("collected_on", _day)
    if len(problems) > before or period is None:
        return None
    return TaxRecord(
        line, uscc, payer_name, item, period, base, amount, voucher, collected_on, positions
    )


def _item(text: str, catalogue: Catalogue) -> str:
    """A catalogue code (``01``) or a catalogue name (``工会经费(拨缴)``; ``工会经费`` alone is
    read as 01, the tax bureau's name of the item)."""
    if text in catalogue.items:
        return text
    names = {name: code for code, name in catalogue.items.items()}
    names.setdefault("工会经费", DEFAULT_ITEM)
    if text in names:
        return names[text]
    raise InvalidInput(f"item {text!r} is neither a catalogue code nor a catalogue name")


def _voucher(text: str) -> str:
    if not _VOUCHER.fullmatch(text):
        raise InvalidInput(f"voucher {text!r} must be 6-32 letters, digits or '-'")
    return text.upper()


def _day(text: str) -> date:
    day = parse_day(text)
    if day is None:
        raise InvalidInput(f"date {text!r} is not YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD")
    return day


def _period(
    cells: Mapping[str, str], positions: Mapping[str, int], bad: Any
) -> PaymentPeriod | None:
    """所属期 from ``period``, or from ``period_from`` … ``period_to`` (the first and last day of
    whole months, as the tax bureau states it)."""
    text = cells.get("period", "").strip()
    if "period" in positions or text:
        if not text:
            bad("period", "is required")
            return None
        day = parse_day(text)
        if day is not None and day.day == 1:
            text = f"{day:%Y-%m}"  # a month typed into Excel is saved as its first day
        try:
            return parse_payment_period(text, what="period")
        except InvalidInput as error:
            bad("period", str(error))
            return None
    first, last = (parse_day(cells.get(c, "")) for c in ("period_from", "period_to"))
    first_ok = first is not None and first.day == 1
    last_ok = last is not None and _month_end(last)
    if not first_ok:
        bad("period_from", "must be the first day of a month, e.g. 2026-10-01")
    if not last_ok:
        bad("period_to", "must be the last day of a month, e.g. 2026-10-31")
    if first is None or last is None or not (first_ok and last_ok):
        return None
    months = f"{first:%Y-%m}~{last:%Y-%m}"
    try:
        return parse_payment_period(months, what="period")
    except InvalidInput as error:
        bad("period_to", str(error))
        return None


def _month_end(day: date) -> bool:
    return add_months(day.replace(day=1), 1).toordinal() - 1 == day.toordinal()
