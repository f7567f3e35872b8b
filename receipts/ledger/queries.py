"""Reading receipts back from the ledger, with their travelling status and their local state
derived from the events (docs/formats.md, "Statuses: travelling and local")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import LocalState, ReceiptStatus
from receipts.domain.model import Receipt, ReceiptRef
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.models import Archive, Booking, LedgerState, ReceiptRow
from receipts.ledger.receipt_key import receipt_row

__all__ = ["StoredReceipt", "here_of", "load_receipt", "status_of"]


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
    """Issued or reversed: the travelling status (derived from the events)."""
    reversed_by: ReceiptRef | None
    """The red receipt that cancelled it, if any."""
    here: LocalState | None = None
    """Archived or booked in this ledger only, if either (docs/formats.md)."""


def load_receipt(db: Database, ref: ReceiptRef) -> StoredReceipt:
    """The receipt ``ref`` from this ledger; an unknown one is an input error."""
    with db.read() as session:
        row = receipt_row(session, ref.code, ref.number)
        if row is None:
            raise InvalidInput(f"no receipt {ref} in this ledger")
        status, reversed_by = status_of(session, row)
        receipt = parse_receipt_xml(row.xml)
        return StoredReceipt(
            receipt, row.xml, row.digest, status, reversed_by, here_of(session, row)
        )


def status_of(session: Session, row: ReceiptRow) -> tuple[ReceiptStatus, ReceiptRef | None]:
    """A receipt's travelling status: reversed when a red receipt cancels it, else issued. The
    red receipt travels up with the events, so every tier holding both says the same."""
    red = session.scalars(
        select(ReceiptRow).where(
            ReceiptRow.original_code == row.code, ReceiptRow.original_number == row.number
        )
    ).first()
    if red is not None:
        return ReceiptStatus.REVERSED, ReceiptRef(red.code, red.number)
    return ReceiptStatus.ISSUED, None


def here_of(session: Session, row: ReceiptRow) -> LocalState | None:
    """What is true of the receipt in this ledger only: archived when the issuer is this
    ledger's owner and its month is in a main archive; booked when this (payer's) ledger has
    a booking of it that is not undone."""
    owner = session.scalar(select(LedgerState.org_code))
    if row.issuer == owner:
        months = session.scalars(select(Archive.months).where(Archive.kind == "main"))
        if any(row.period in m.split(",") for m in months):
            return LocalState.ARCHIVED
    booked = session.scalar(
        select(Booking.id).where(
            Booking.code == row.code, Booking.number == row.number, Booking.undone_at.is_(None)
        )
    )
    return LocalState.BOOKED if booked is not None else None
