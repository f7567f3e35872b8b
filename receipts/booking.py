"""Booking (入账) in a payer's ledger: a verified receipt is taken into the accounts at most once.

A red receipt is booked as a negative entry against its original; an original whose red receipt
this payer already holds cannot be booked; undoing a booking is an event, never a deletion.

A red receipt may also be *received* without a voucher (``receipt.received``): it is then held, so
its original cannot be booked any more, and a booked original is listed as "reversed — needs a red
voucher" until the red receipt itself is booked under its voucher, which is the red voucher
(冲红凭证). That state is derived from the held receipts and the bookings, both re-derived from the
event log by the audit (``docs/security.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import ReceiptKind
from receipts.domain.model import Receipt, ReceiptRef
from receipts.domain.money import from_fen, to_fen
from receipts.errors import DuplicateBooking, InvalidInput, ReceiptError
from receipts.issuing.receipt_rows import item_columns, receipt_columns
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Booking, ReceiptItemRow, ReceiptRow
from receipts.ledger.partitions import ensure_years
from receipts.ledger.receipt_key import receipt_row
from receipts.verify.receipt import ReceiptVerification

__all__ = [
    "BookingRecord",
    "ReceivedRed",
    "RefusedBooking",
    "book",
    "list_bookings",
    "receive_red",
    "undo_booking",
]


class RefusedBooking(ReceiptError):
    """The receipt may not be booked (not verified, not ours, reversed, original missing)."""

    exit_code = 1


@dataclass(frozen=True)
class BookingRecord:
    """A booking as the payer's ledger holds it."""

    ref: ReceiptRef
    """The receipt booked."""
    voucher: str
    """The accounting voucher (凭证号) it was booked under."""
    booked_by: str
    """Who booked it."""
    booked_at: datetime
    """When (UTC)."""
    amount: str
    """Signed amount, two decimals (negative for a red receipt)."""
    undone_at: datetime | None
    """When the booking was undone, if it was."""
    reversed_by: ReceiptRef | None = None
    """The red receipt this payer holds that reverses the booked receipt, if any."""
    red_voucher: str | None = None
    """The voucher of the red receipt's active booking (the red voucher), if it is booked."""

    @property
    def status(self) -> str:
        """``undone``, ``booked``, or the reversal state an accountant must act on."""
        if self.undone_at is not None:
            return "undone"
        if self.reversed_by is None:
            return "booked"
        if self.red_voucher is None:
            return "reversed — needs a red voucher"
        return f"reversed by {self.reversed_by}, red voucher {self.red_voucher}"


@dataclass(frozen=True)
class ReceivedRed:
    """A red receipt received (held) without a voucher."""

    ref: ReceiptRef
    """The red receipt."""
    original: ReceiptRef
    """The receipt it reverses."""
    original_booked: bool
    """Whether the original has an active booking here (it now needs a red voucher)."""


def book(
    db: Database,
    verification: ReceiptVerification,
    xml: bytes,
    payer_uscc: str,
    voucher: str,
    booked_by: str,
    signer: HeadSigner | None = None,
) -> BookingRecord:
    """Book a verified receipt; a second booking of the same receipt is refused."""
    if not voucher.strip() or len(voucher) > 64 or not booked_by.strip() or len(booked_by) > 100:
        raise InvalidInput("--voucher (1-64 characters) and --by (1-100) are required")
    receipt = _ours(verification, payer_uscc)
    with db.write() as (session, state):
        earlier = _active_booking(session, receipt.ref)
        if earlier is not None:
            raise DuplicateBooking(
                f"receipt {receipt.ref} was booked already by {earlier.booked_by} on "
                f"{earlier.booked_at:%Y-%m-%d %H:%M} UTC under voucher {earlier.voucher}"
            )
        _check_reversal_rules(session, receipt)
        _store(session, receipt, xml, verification.digest or "")
        moment = datetime.now(UTC).replace(microsecond=0)
        amount_fen = to_fen(receipt.total)
        event = append_event(
            session,
            state,
            "booking.recorded",
            {
                "code": receipt.code,
                "number": receipt.number,
                "digest": verification.digest,
                "voucher": voucher,
                "by": booked_by,
                "amount_fen": amount_fen,
            },
            moment,
        )
        session.flush()
        session.add(
            Booking(
                code=receipt.code,
                number=receipt.number,
                digest=verification.digest or "",
                voucher=voucher,
                booked_by=booked_by,
                booked_at=moment,
                amount_fen=amount_fen,
                event_seq=event.seq,
            )
        )
        sign_head(session, state, signer)
    return BookingRecord(receipt.ref, voucher, booked_by, moment, f"{receipt.total:.2f}", None)


def _ours(verification: ReceiptVerification, payer_uscc: str) -> Receipt:
    """The verified receipt, if it is valid and was issued to this payer."""
    receipt = verification.receipt
    if not verification.valid or receipt is None:
        first = verification.findings[0].message if verification.findings else "not valid"
        raise RefusedBooking(f"{verification.source}: not booked, the receipt is invalid: {first}")
    if receipt.payer.uscc != payer_uscc:
        raise RefusedBooking(
            f"receipt {receipt.ref} was issued to {receipt.payer.name} "
            f"({receipt.payer.uscc or receipt.payer.other_id or 'no USCC'}), not to this payer "
            f"({payer_uscc})"
        )
    return receipt


def receive_red(
    db: Database,
    verification: ReceiptVerification,
    xml: bytes,
    payer_uscc: str,
    received_by: str,
    signer: HeadSigner | None = None,
) -> ReceivedRed:
    """Hold a verified red receipt without booking it, so its original is flagged (if booked)
    or refused (if not); receiving one already held records nothing new."""
    if not received_by.strip() or len(received_by) > 100:
        raise InvalidInput("--by (1-100 characters) is required")
    receipt = _ours(verification, payer_uscc)
    if receipt.kind is ReceiptKind.NORMAL or receipt.original is None:
        raise InvalidInput(
            f"receipt {receipt.ref} is not a red receipt: book it with --voucher and --by"
        )
    with db.write() as (session, state):
        held = receipt_row(session, receipt.code, receipt.number) is not None
        _store(session, receipt, xml, verification.digest or "")
        if not held:
            payload = {
                "code": receipt.code,
                "number": receipt.number,
                "digest": verification.digest,
                "by": received_by,
            }
            moment = datetime.now(UTC).replace(microsecond=0)
            append_event(session, state, "receipt.received", payload, moment)
            sign_head(session, state, signer)
        booked = _active_booking(session, receipt.original) is not None
    return ReceivedRed(receipt.ref, receipt.original, booked)


def _active_booking(session: Session, ref: ReceiptRef) -> Booking | None:
    return session.scalars(
        select(Booking).where(
            Booking.code == ref.code, Booking.number == ref.number, Booking.undone_at.is_(None)
        )
    ).first()


def _check_reversal_rules(session: Session, receipt: Receipt) -> None:
    if receipt.kind is ReceiptKind.NORMAL:
        red = session.scalars(
            select(ReceiptRow).where(
                ReceiptRow.original_code == receipt.code,
                ReceiptRow.original_number == receipt.number,
            )
        ).first()
        if red is not None:
            raise RefusedBooking(
                f"receipt {receipt.ref} was reversed by {red.code}-{red.number:010d}, which this "
                "payer holds; a reversed receipt cannot be booked"
            )
        return
    assert receipt.original is not None
    if _active_booking(session, receipt.original) is None:
        raise RefusedBooking(
            f"red receipt {receipt.ref} cancels {receipt.original}, which is not booked here; "
            "book a red receipt only against its booked original"
        )


def _store(session: Session, receipt: Receipt, xml: bytes, digest: str) -> None:
    row = receipt_row(session, receipt.code, receipt.number)
    if row is not None:
        if row.digest != digest:
            raise RefusedBooking(
                f"this ledger holds a different receipt {receipt.ref} (digest {row.digest[:12]}…);"
                " two receipts with one code and number: report it to the issuer"
            )
        return
    columns = receipt_columns(receipt, xml, digest)
    ensure_years(session, [columns["issue_year"]])
    session.add(ReceiptRow(**columns))
    session.add_all(ReceiptItemRow(**columns) for columns in item_columns(receipt))


def undo_booking(
    db: Database, ref: ReceiptRef, by: str, reason: str, signer: HeadSigner | None = None
) -> BookingRecord:
    """Undo the active booking of ``ref``; recorded as an event, the booking row stays."""
    if not reason.strip():
        raise InvalidInput("undoing a booking needs a --reason")
    with db.write() as (session, state):
        booking = _active_booking(session, ref)
        if booking is None:
            raise InvalidInput(f"receipt {ref} has no active booking to undo")
        red = session.scalars(
            select(Booking)
            .join(
                ReceiptRow,
                (ReceiptRow.code == Booking.code) & (ReceiptRow.number == Booking.number),
            )
            .where(
                ReceiptRow.original_code == ref.code,
                ReceiptRow.original_number == ref.number,
                Booking.undone_at.is_(None),
            )
        ).first()
        if red is not None:
            raise InvalidInput(
                f"undo the booking of red receipt {red.code}-{red.number:010d} "
                f"first: it is booked against {ref}"
            )
        moment = datetime.now(UTC).replace(microsecond=0)
        append_event(
            session,
            state,
            "booking.undone",
            {"booking_seq": booking.event_seq, "by": by, "reason": reason},
            moment,
        )
        booking.undone_at = moment
        sign_head(session, state, signer)
        return _record(booking)


def list_bookings(db: Database) -> list[BookingRecord]:
    """Every booking, undone ones included, in the order they were made; a booked receipt whose
    red receipt is held here names it, and the red voucher once the red receipt is booked."""
    with db.read() as session:
        reds = {
            (r.original_code, r.original_number): ReceiptRef(r.code, r.number)
            for r in session.scalars(
                select(ReceiptRow).where(ReceiptRow.original_code.is_not(None))
            )
        }
        bookings = list(session.scalars(select(Booking).order_by(Booking.id)))
    vouchers = {(b.code, b.number): b.voucher for b in bookings if b.undone_at is None}
    out = []
    for b in bookings:
        red = reds.get((b.code, b.number))
        voucher = vouchers.get((red.code, red.number)) if red is not None else None
        out.append(_record(b, red, voucher))
    return out


def _record(
    b: Booking, reversed_by: ReceiptRef | None = None, red_voucher: str | None = None
) -> BookingRecord:
    return BookingRecord(
        ReceiptRef(b.code, b.number),
        b.voucher,
        b.booked_by,
        b.booked_at,
        f"{from_fen(b.amount_fen):.2f}",
        b.undone_at,
        reversed_by,
        red_voucher,
    )
