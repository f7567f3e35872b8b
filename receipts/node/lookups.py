"""The public look-up as the node answers it (docs/security.md, "The public surface"): the
ledger's look-up (:mod:`receipts.lookup`, the same work whether the receipt is missing or the
check code wrong), and only after every detail matched, the receipt's issuer and masked payer.

The answer for a wrong check code, a wrong amount, a missing receipt and a written-off number
is one and the same :data:`NOT_FOUND`: a written-off number was never issued, so it has no
check code that could match, and saying "written off" would tell anyone without the paper
which numbers a federation spoiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from receipts.domain.divisions import known_federation
from receipts.domain.enums import PayerKind, ReceiptStatus
from receipts.domain.identifiers import parse_check_code, validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.domain.money import parse_amount
from receipts.errors import InvalidInput
from receipts.lookup import answer
from receipts.node.masking import mask_payer
from receipts.node.state import NodeState

__all__ = ["NOT_FOUND", "PublicReceipt", "parse_details", "public_lookup"]


@dataclass(frozen=True)
class PublicReceipt:
    """What the public learns of a receipt: everything when found, nothing otherwise."""

    found: bool
    """Every detail matched a receipt of this ledger."""
    ref: ReceiptRef | None = None
    """The receipt, when found."""
    status: ReceiptStatus | None = None
    """Issued or reversed."""
    reversed_by: ReceiptRef | None = None
    """The red receipt cancelling it, when reversed."""
    issuer: str | None = None
    """The issuer's org code."""
    issuer_name: str | None = None
    """The issuer's name."""
    issued_on: date | None = None
    """The issue date printed on the receipt (the issuer's time zone)."""
    amount: Decimal | None = None
    """The total."""
    payer: str | None = None
    """The payer's name, masked (:func:`receipts.node.masking.mask_payer`)."""


NOT_FOUND = PublicReceipt(False)
"""The one answer for every look-up that did not match."""


@dataclass(frozen=True)
class Details:
    """What a person typed, validated."""

    ref: ReceiptRef
    """票据代码 and 票据号码."""
    check_code: str
    """校验码 in the canonical lower case (typed in either case)."""
    amount: Decimal | None
    """金额, when given."""


def parse_details(code: str, number: str, check: str, amount: str | None) -> Details:
    """Validate the typed details; a malformed one is :class:`InvalidInput` (answered before
    the ledger is read, so the answer depends on the input alone)."""
    code, number = code.strip(), number.strip()
    if not number.isdigit() or len(number) > 10:
        raise InvalidInput("the receipt number must be 1 to 10 digits")
    ref = ReceiptRef(validate_receipt_code(code), validate_number(number.zfill(10)))
    typed = amount.strip() if amount is not None else ""
    value = parse_amount(typed, allow_negative=True) if typed else None
    return Details(ref, parse_check_code(check), value)


def public_lookup(state: NodeState, details: Details) -> PublicReceipt:
    """Look the receipt up; blocking (call it from a worker thread). One statement whatever
    the outcome (:class:`receipts.lookup.LookupReader`): what the public sees of a matched
    receipt comes in the same row as its check code."""
    reader = state.lookup_reader()
    row = reader.fetch(details.ref)
    found = answer(row, details.ref, details.check_code, details.amount)
    if reader is not state.reader and (not found.found or found.status is not ReceiptStatus.ISSUED):
        # A replica a little behind may not hold a receipt issued a moment ago, nor a reversal:
        # anything but "found, valid" is asked of the primary again (receipts/node/replica.py),
        # whatever the reason, so a wrong check code and a missing receipt still cost the same.
        row = state.reader.fetch(details.ref)
        found = answer(row, details.ref, details.check_code, details.amount)
    if not found.found:
        return NOT_FOUND
    assert found.issued_at is not None and found.issuer is not None
    assert found.payer_name is not None and found.payer_kind is not None
    return PublicReceipt(
        True,
        details.ref,
        found.status,
        found.reversed_by,
        found.issuer,
        _issuer_name(state, found.issuer, found.issuer_name),
        # The date printed on the receipt: the issue time in the federation's zone (the ledger
        # keeps it in UTC, whose date is the day before for 00:00-08:00 in China).
        found.issued_at.astimezone(state.workspace.config.zone).date(),
        found.total,
        mask_payer(found.payer_name, PayerKind(found.payer_kind)),
    )


def _issuer_name(state: NodeState, issuer: str, registered: str | None) -> str:
    """The issuer's name as this ledger knows it: its own, a registered organisation's, or the
    reference list's."""
    if issuer == state.workspace.config.org_code:
        return state.workspace.config.name
    if registered:
        return registered
    known = known_federation(issuer)
    return known.name if known is not None else issuer
