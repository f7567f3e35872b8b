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
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Select, String, and_, bindparam, select
from sqlalchemy.orm import aliased

from receipts.domain.divisions import known_federation
from receipts.domain.enums import PayerKind, ReceiptStatus
from receipts.domain.identifiers import parse_check_code, validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.domain.money import parse_amount
from receipts.errors import InvalidInput
from receipts.ledger.models import OrganisationRow, ReceiptRow
from receipts.lookup import lookup
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


def _shown_query() -> Select[str, str, str, datetime, str, int, str]:
    """What the public sees of a matched receipt, in one statement of indexed columns (parsing
    the signed XML would cost ten times the look-up itself)."""
    red = aliased(ReceiptRow)
    code, number = bindparam("code", type_=String), bindparam("number", type_=BigInteger)
    return (
        select(
            ReceiptRow.issuer,
            ReceiptRow.payer_name,
            ReceiptRow.payer_kind,
            ReceiptRow.issued_at,
            red.code,
            red.number,
            OrganisationRow.name,
        )
        .select_from(ReceiptRow)
        .where(ReceiptRow.code == code, ReceiptRow.number == number)
        .outerjoin(red, and_(red.original_code == code, red.original_number == number))
        .outerjoin(OrganisationRow, OrganisationRow.code == ReceiptRow.issuer)
    )


_SHOWN = _shown_query()


def public_lookup(state: NodeState, details: Details) -> PublicReceipt:
    """Look the receipt up; blocking (call it from a worker thread)."""
    answer = lookup(state.db, details.ref, details.check_code, details.amount)
    if not answer.found:
        return NOT_FOUND
    with state.db.read() as session:
        row = session.execute(
            _SHOWN, {"code": details.ref.code, "number": details.ref.number}
        ).one()
    issuer, payer, kind, issued_at, red_code, red_number, registered = row
    return PublicReceipt(
        True,
        details.ref,
        answer.status,
        ReceiptRef(red_code, red_number) if red_code is not None and red_number else None,
        issuer,
        _issuer_name(state, issuer, registered),
        # The date printed on the receipt: the issue time in the federation's zone (the ledger
        # keeps it in UTC, whose date is the day before for 00:00-08:00 in China).
        issued_at.astimezone(state.workspace.config.zone).date(),
        answer.total,
        mask_payer(payer, PayerKind(kind)),
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
