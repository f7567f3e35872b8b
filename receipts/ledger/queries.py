"""Reading receipts back from the ledger, with their status derived from the events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import ReceiptStatus
from receipts.domain.model import Receipt, ReceiptRef
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.models import Archive, LedgerState, ReceiptRow

__all__ = ["StoredReceipt", "load_receipt", "status_of"]


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt as the ledger holds it."""

    receipt: Receipt
    """The parsed receipt."""
    xml: bytes
    """The signed XML exactly as issued."""
    digest: str
    """SHA-256 of ``xml``."""
    status: ReceiptStatus
    """Issued, reversed or archived (derived from the events)."""
    reversed_by: ReceiptRef | None
    """The red receipt that cancelled it, if any."""


def load_receipt(db: Database, ref: ReceiptRef) -> StoredReceipt:
    """The receipt ``ref`` from this ledger; an unknown one is an input error."""
    with db.read() as session:
        row = session.get(ReceiptRow, (ref.code, ref.number))
        if row is None:
            raise InvalidInput(f"no receipt {ref} in this ledger")
        status, reversed_by = status_of(session, row)
        return StoredReceipt(parse_receipt_xml(row.xml), row.xml, row.digest, status, reversed_by)


def status_of(session: Session, row: ReceiptRow) -> tuple[ReceiptStatus, ReceiptRef | None]:
    """A receipt's status: reversed when a red receipt cancels it, archived once archived."""
    red = session.scalars(
        select(ReceiptRow).where(
            ReceiptRow.original_code == row.code, ReceiptRow.original_number == row.number
        )
    ).first()
    if red is not None:
        return ReceiptStatus.REVERSED, ReceiptRef(red.code, red.number)
    owner = session.scalar(select(LedgerState.org_code))
    if row.issuer == owner:
        months = session.scalars(select(Archive.months).where(Archive.kind == "main"))
        if any(row.period in m.split(",") for m in months):
            return ReceiptStatus.ARCHIVED, None
    return ReceiptStatus.ISSUED, None
