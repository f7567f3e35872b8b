"""Public look-up (查验): the status of a receipt for whoever holds its code, number and check
code (and, optionally, amount). A wrong check code gets exactly the answer a receipt that does
not exist gets, so nobody can probe the ledger for receipts."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from decimal import Decimal

from receipts.domain.enums import ReceiptStatus
from receipts.domain.model import ReceiptRef
from receipts.domain.money import from_fen
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.ledger.queries import status_of

__all__ = ["LookupAnswer", "lookup"]

#: What a look-up says when the details do not match a receipt (whether or not it exists).
NO_MATCH = "no receipt matches these details"


@dataclass(frozen=True)
class LookupAnswer:
    """The public answer: a status only when every detail matched."""

    found: bool
    """True when code, number, check code (and amount) all matched."""
    message: str
    """What to tell the person asking."""
    status: ReceiptStatus | None = None
    """The receipt's status when found."""
    total: Decimal | None = None
    """Its total when found."""
    issued_on: str | None = None
    """Its issue date when found."""


def lookup(
    db: Database, ref: ReceiptRef, check_code: str, amount: Decimal | None = None
) -> LookupAnswer:
    """Look a receipt up by the details printed on it."""
    with db.read() as session:
        row = session.get(ReceiptRow, (ref.code, ref.number))
        # Compare in constant time, and compare even when there is no row, so neither the
        # answer nor its timing tells whether the receipt exists.
        stored = row.check_code if row is not None else "\x00" * 6
        matched = hmac.compare_digest(stored.encode(), check_code.encode())
        if row is None or not matched:
            return LookupAnswer(False, NO_MATCH)
        total = from_fen(row.total_fen)
        if amount is not None and amount != total:
            return LookupAnswer(False, NO_MATCH)
        status, reversed_by = status_of(session, row)
        note = f" (reversed by {reversed_by})" if reversed_by else ""
        day = row.issued_at.date().isoformat()
        return LookupAnswer(True, f"receipt {ref} is {status.value}{note}", status, total, day)
