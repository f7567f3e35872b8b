"""Public look-up (查验): the status of a receipt for whoever holds its code, number and check
code (and, optionally, amount). A wrong check code gets exactly the answer a receipt that does
not exist gets, so nobody can probe the ledger for receipts."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from sqlalchemy import BigInteger, Select, String, and_, bindparam, select
from sqlalchemy.orm import aliased

from receipts.domain.enums import ReceiptStatus
from receipts.domain.identifiers import parse_check_code
from receipts.domain.model import ReceiptRef
from receipts.domain.money import from_fen
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState, ReceiptRow

__all__ = ["LookupAnswer", "lookup"]

#: What a look-up says when the details do not match a receipt (whether or not it exists).
NO_MATCH = "no receipt matches these details"
_DUMMY = "\x00" * 6
"""Compared against when there is no receipt: the length of a real check code."""


def _receipt_query() -> Select[str, str, int, datetime, str, int]:
    """One row whether or not the receipt exists: the ledger's single state row, with the
    receipt's columns and those of a red receipt cancelling it, NULL when there is none. Built
    once (with bound parameters) so that every look-up runs the same compiled statement."""
    receipt, red = aliased(ReceiptRow), aliased(ReceiptRow)
    code, number = bindparam("code", type_=String), bindparam("number", type_=BigInteger)
    return (
        select(
            LedgerState.org_code,
            receipt.check_code,
            receipt.total_fen,
            receipt.issued_at,
            red.code.label("red_code"),
            red.number.label("red_number"),
        )
        .select_from(LedgerState)
        .outerjoin(receipt, and_(receipt.code == code, receipt.number == number))
        .outerjoin(red, and_(red.original_code == code, red.original_number == number))
    )


_RECEIPT = _receipt_query()


@dataclass(frozen=True)
class LookupAnswer:
    """The public answer: a status only when every detail matched."""

    found: bool
    """True when code, number, check code (and amount) all matched."""
    message: str
    """What to tell the person asking."""
    status: ReceiptStatus | None = None
    """The receipt's travelling status when found: issued or reversed, as every tier holding
    it answers (never a state of this ledger only, such as archived)."""
    total: Decimal | None = None
    """Its total when found."""
    issued_on: str | None = None
    """Its issue date when found."""


def lookup(
    db: Database,
    ref: ReceiptRef,
    check_code: str,
    amount: Decimal | None = None,
    zone: tzinfo = UTC,
) -> LookupAnswer:
    """Look a receipt up by the details printed on it; its issue date is the day in ``zone``
    (the federation's calendar, as printed: the ledger keeps UTC, which is the day before for a
    receipt issued between 00:00 and 08:00 in China).

    ``check_code`` is taken as typed, in either case (:func:`parse_check_code`); one that is not
    6 characters 0-9 or a-z at all is an input error, raised before the ledger is read, so that
    answer depends on the input alone.

    Every look-up does the same work whether the receipt exists, the check code is wrong, the
    amount is wrong or everything matches: the same SQL statement, answering one row shape
    whether or not the receipt exists (the receipt with the ledger's owner and any red receipt
    cancelling it), one constant-time comparison of the check
    code (against a dummy when there is no receipt) and one of the amount, so neither the answer
    nor its timing tells whether the receipt exists (``bench/lookup.py`` measures what is left:
    the database's own index hit or miss).
    """
    typed = parse_check_code(check_code)
    with db.read() as session:
        row = session.execute(_RECEIPT, {"code": ref.code, "number": ref.number}).first()
    stored, fen = _DUMMY, -1
    if row is not None and row.check_code is not None:
        stored, fen = row.check_code, row.total_fen
    matched = hmac.compare_digest(stored.encode(), typed.encode())
    total = from_fen(fen)
    amount_ok = (amount if amount is not None else total) == total
    if row is None or row.check_code is None or not matched or not amount_ok:
        return LookupAnswer(False, NO_MATCH)
    if row.red_code is not None:
        reversed_by = ReceiptRef(row.red_code, row.red_number)
        status, note = ReceiptStatus.REVERSED, f" (reversed by {reversed_by})"
    else:
        status, note = ReceiptStatus.ISSUED, ""
    day = row.issued_at.astimezone(zone).date().isoformat()
    return LookupAnswer(True, f"receipt {ref} is {status.value}{note}", status, total, day)
