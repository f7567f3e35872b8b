"""One payment, one proof (docs/tax.md "One payment, one proof"): a payer's item and 所属期 that
the tax bureau collected (税务代收) is not receipted again, because the tax voucher (完税凭证) is
the payer's proof of that payment.

Issuing calls :func:`check_tax` beside the payer register's check, before a number is taken: a
request whose payer (by USCC), item and 所属期 (a month in common is enough) match an imported
tax record is refused in one line naming the voucher, unless the clerk overrides it with a reason
(``--override-tax REASON``); each receipt issued over a tax record is then recorded by a
``tax.overridden`` event naming the receipt, the vouchers and the reason
(:func:`record_tax_overrides`). ``issue --batch`` checks every row first
(:func:`batch_tax_problems`), so a file is refused whole with each such row named.

:func:`tax_record_shares` is how a tax record's amount is shared (分成) when it is imported, here
beside issuing so that the import (:mod:`receipts.tax.importing`) and the audit
(:mod:`receipts.audit.tax`) compute it alike, as receipts' lines are (``receipt_rows.shares_for``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.batch.fields import BatchEntry, BatchProblem
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import ReceiptRef, check_text
from receipts.domain.money import to_fen
from receipts.domain.payment_period import parse_payment_period
from receipts.domain.sharing import PARTY_ORDER, Party, PayerSituation, SharingRules, shares_of
from receipts.errors import InvalidInput
from receipts.issuing.receipt_rows import own_party
from receipts.ledger.database import Database
from receipts.ledger.events import append_event
from receipts.ledger.models import LedgerState, TaxCollectionRow

__all__ = [
    "TaxCollected",
    "TaxConflict",
    "batch_tax_problems",
    "check_override_reason",
    "check_tax",
    "record_tax_overrides",
    "tax_conflicts",
    "tax_record_shares",
]

_IN_CHUNK = 500


class TaxCollected(InvalidInput):
    """A receipt asked for a payment the tax bureau collected."""


@dataclass(frozen=True)
class TaxConflict:
    """A request's line that a tax record covers."""

    request: int
    """The request's index in the list checked."""
    line: int
    """The item's line on the receipt, from 1."""
    uscc: str
    """The payer."""
    item: str
    """The item code."""
    period: str
    """The line's 所属期."""
    voucher: str
    """The tax record's 完税凭证号."""
    tax_period: str
    """The tax record's 所属期."""
    collected_on: str
    """The day the tax bureau collected it (ISO)."""

    def __str__(self) -> str:
        return (
            f"payer {self.uscc}, item {self.item}, 所属期 {self.period} was collected by the tax "
            f"bureau (tax voucher {self.voucher}, 所属期 {self.tax_period}, collected "
            f"{self.collected_on}): the voucher is the payer's proof; no second receipt unless "
            "--override-tax REASON"
        )


def check_override_reason(reason: str) -> str:
    """An override's reason: 1-200 printable characters."""
    return check_text(reason, "tax override reason", maximum=200)


def tax_conflicts(
    session: Session, issuer: str, requests: Sequence[IssueRequest]
) -> list[TaxConflict]:
    """Every line of ``requests`` that an imported tax record of ``issuer`` covers."""
    usccs = sorted({r.payer.uscc for r in requests if r.payer.uscc is not None})
    records: dict[tuple[str, str], list[TaxCollectionRow]] = {}
    for start in range(0, len(usccs), _IN_CHUNK):
        query = (
            select(TaxCollectionRow)
            .where(
                TaxCollectionRow.issuer == issuer,
                TaxCollectionRow.uscc.in_(usccs[start : start + _IN_CHUNK]),
            )
            .order_by(TaxCollectionRow.collected_on, TaxCollectionRow.voucher)
        )
        for row in session.scalars(query):
            records.setdefault((row.uscc, row.item_code), []).append(row)
    out: list[TaxConflict] = []
    if not records:
        return out
    for n, request in enumerate(requests):
        if request.payer.uscc is None:
            continue
        for line, item in enumerate(request.items, 1):
            rows = records.get((request.payer.uscc, item.code), [])
            if not rows:
                continue
            period = parse_payment_period(item.period)
            first, last = f"{period.first_month:%Y-%m}", f"{period.last_month:%Y-%m}"
            for row in rows:
                if row.first_month <= last and first <= row.last_month:
                    out.append(
                        TaxConflict(
                            n,
                            line,
                            row.uscc,
                            row.item_code,
                            period.text,
                            row.voucher,
                            row.period,
                            row.collected_on.isoformat(),
                        )
                    )
    return out


def check_tax(
    session: Session, issuer: str, requests: Sequence[IssueRequest], override: str | None
) -> list[TaxConflict]:
    """Refuse (:class:`TaxCollected`, naming the voucher) the first line a tax record covers,
    unless ``override`` gives a reason; returns the lines overridden."""
    conflicts = tax_conflicts(session, issuer, requests)
    if conflicts and override is None:
        raise TaxCollected(str(conflicts[0]))
    return conflicts


def record_tax_overrides(
    session: Session,
    state: LedgerState,
    conflicts: Iterable[TaxConflict],
    refs: Sequence[ReceiptRef],
    reason: str | None,
) -> None:
    """A ``tax.overridden`` event for each receipt issued over tax records (``refs[i]`` is the
    receipt of request ``i``), naming its lines, the vouchers and the reason."""
    by_request: dict[int, list[TaxConflict]] = {}
    for conflict in conflicts:
        by_request.setdefault(conflict.request, []).append(conflict)
    for n in sorted(by_request):
        lines = by_request[n]
        payload = {
            "code": refs[n].code,
            "number": refs[n].number,
            "uscc": lines[0].uscc,
            "lines": [
                {"line": c.line, "item": c.item, "period": c.period, "voucher": c.voucher}
                for c in lines
            ],
            "reason": reason,
        }
        append_event(session, state, "tax.overridden", payload)


def batch_tax_problems(
    db: Database, issuer: str, path: str, entries: Sequence[BatchEntry], override: str | None
) -> list[BatchProblem]:
    """Every row of a batch whose line a tax record covers, at the item's row (none when
    ``override`` gives a reason: those receipts are issued and the override recorded)."""
    if override is not None:
        return []
    with db.read() as session:
        conflicts = tax_conflicts(session, issuer, [e.request for e in entries])
    out = []
    for conflict in conflicts:
        entry = entries[conflict.request]
        row = entry.line
        if len(entry.item_lines) >= conflict.line:
            row = entry.item_lines[conflict.line - 1]
        ref = entry.request.client_ref
        out.append(BatchProblem(path, row, None, f"reference {ref}: {conflict}"))
    return out


def tax_record_shares(
    amount: Decimal, item: str, on: date, rules: SharingRules, issuer: str
) -> dict[Party, int]:
    """Each party's share in fen of a tax record of ``amount`` for ``item`` collected on ``on``,
    under the version of ``rules`` in force that day and the situation ``tax_collected``
    (docs/tax.md "Income and settlement"). An item the version has no row for at all is not
    shared: the whole amount is ``issuer``'s own (docs/settlement.md); an item with rows but none
    for ``tax_collected`` is refused (:class:`InvalidInput`)."""
    version = rules.version_on(on)
    if not any(code == item for code, _ in version.rows):
        whole = dict.fromkeys(PARTY_ORDER, 0)
        whole[own_party(issuer)] = to_fen(amount)
        return whole
    split = shares_of(amount, item, PayerSituation.TAX_COLLECTED, on, rules)
    return {party: to_fen(split[party]) for party in PARTY_ORDER}
