"""Deliveries in the ledger (docs/delivery.md, "Events"): which receipts are due, and the
``delivery.*`` events with their ``deliveries`` cache rows.

Every attempt is an event committed *before* the message goes out, and every outcome an event
committed after it; an attempt without an outcome is a delivery of unknown outcome, which is
never sent again on its own (at most once). Addresses come from the payer register's events,
not from its cache table alone: a ``payers`` row edited in SQL to point elsewhere is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from receipts.delivery.smtp import Outcome, SendResult
from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database
from receipts.ledger.delivery_models import DeliveryRow
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Event, PayerRow, ReceiptRow
from receipts.ledger.receipt_key import receipt_key

__all__ = [
    "PAYER_EVENTS",
    "Due",
    "due_receipts",
    "held_deliveries",
    "record_attempt",
    "record_outcome",
    "registered_addresses",
]

#: The payer events that set a payer's delivery address.
PAYER_EVENTS = ("payer.registered", "payer.updated")


@dataclass(frozen=True)
class Due:
    """A receipt to deliver, and where."""

    code: str
    number: int
    digest: str
    uscc: str
    address: str
    """The address the payer register's events give for :attr:`uscc`."""

    @property
    def ref(self) -> ReceiptRef:
        """The receipt's code and number."""
        return ReceiptRef(self.code, self.number)

    def label(self) -> str:
        """``CODE-NUMBER`` as printed on the receipt."""
        return f"{self.code}-{self.number:010d}"


def registered_addresses(session: Session) -> dict[str, str | None]:
    """USCC → its delivery address, as the payer events make it (the truth, not the cache)."""
    addresses: dict[str, str | None] = {}
    query = select(Event.kind, Event.payload).where(Event.kind.in_(PAYER_EVENTS))
    for kind, payload in session.execute(query.order_by(Event.seq)):
        fields = json.loads(payload)
        if kind == "payer.registered" or fields["uscc"] in addresses:
            addresses[fields["uscc"]] = fields.get("email")
    return addresses


def due_receipts(
    session: Session,
    issuer: str,
    since: datetime | None = None,
    ref: ReceiptRef | None = None,
    limit: int | None = None,
) -> tuple[list[Due], list[str]]:
    """The receipts ``issuer`` issued whose payer has a registered address, never delivered
    (nor pending) and not bounced at that address, oldest first (at most ``limit`` looked at,
    so a first run over years of receipts stays small with ``--limit``); and the problems of
    payers whose register row disagrees with their events (their receipts are not due)."""
    delivered = exists().where(
        DeliveryRow.code == ReceiptRow.code,
        DeliveryRow.number == ReceiptRow.number,
        or_(
            DeliveryRow.status.in_(("sent", "pending")),
            and_(DeliveryRow.status == "bounced", DeliveryRow.address == PayerRow.email),
        ),
    )
    query = (
        select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.digest, PayerRow.uscc, PayerRow.email)
        .join(PayerRow, PayerRow.uscc == ReceiptRow.payer_id)
        .where(ReceiptRow.issuer == issuer, PayerRow.email.is_not(None), ~delivered)
        .order_by(ReceiptRow.issued_at, ReceiptRow.code, ReceiptRow.number)
    )
    if since is not None:
        query = query.where(ReceiptRow.issued_at >= since)
    if ref is not None:
        query = query.where(*receipt_key(ref.code, ref.number))
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    if not rows:
        return [], []
    truth = registered_addresses(session)
    due: list[Due] = []
    tampered: set[str] = set()
    for code, number, digest, uscc, email in rows:
        if email is None or truth.get(uscc) != email:
            tampered.add(uscc)
            continue
        due.append(Due(code, number, digest, uscc, email))
    problems = [
        f"payer {uscc}: its register row's email differs from its events (run receipts audit); "
        "its receipts were not sent"
        for uscc in sorted(tampered)
    ]
    return due, problems


def held_deliveries(
    session: Session,
    issuer: str,
    since: datetime | None = None,
    ref: ReceiptRef | None = None,
) -> list[DeliveryRow]:
    """Deliveries of unknown outcome (an attempt without an outcome), oldest first."""
    query = (
        select(DeliveryRow)
        .join(
            ReceiptRow,
            and_(ReceiptRow.code == DeliveryRow.code, ReceiptRow.number == DeliveryRow.number),
        )
        .where(ReceiptRow.issuer == issuer, DeliveryRow.status == "pending")
        .order_by(DeliveryRow.event_seq)
    )
    if since is not None:
        query = query.where(ReceiptRow.issued_at >= since)
    if ref is not None:
        query = query.where(DeliveryRow.code == ref.code, DeliveryRow.number == ref.number)
    return list(session.scalars(query))


def record_attempt(
    db: Database, due: Due, message_id: str, signer: HeadSigner | None, *, retry: bool = False
) -> bool:
    """Record that ``due`` is about to be sent (committed before it is). False, recording
    nothing, when another run got there first: it is sent, pending or bounced already (with
    ``retry``: unless it is the pending delivery being retried)."""
    with db.write() as (session, state):
        row = session.get(DeliveryRow, (due.code, due.number, due.address))
        others = session.scalars(
            select(DeliveryRow.status).where(
                DeliveryRow.code == due.code,
                DeliveryRow.number == due.number,
                DeliveryRow.address != due.address,
                DeliveryRow.status.in_(("sent", "pending")),
            )
        ).first()
        if others is not None:
            return False
        if row is not None and row.status in ("sent", "bounced"):
            return False
        if row is not None and row.status == "pending" and not retry:
            return False
        payload = {
            "code": due.code,
            "number": due.number,
            "digest": due.digest,
            "uscc": due.uscc,
            "to": due.address,
            "message_id": message_id,
        }
        event = append_event(session, state, "delivery.attempted", payload)
        session.flush()
        if row is None:
            row = DeliveryRow(
                code=due.code,
                number=due.number,
                address=due.address,
                uscc=due.uscc,
                message_id=message_id,
                attempts=0,
            )
            session.add(row)
        row.status, row.reply, row.event_seq = "pending", None, event.seq
        row.attempts += 1
        row.uscc, row.message_id = due.uscc, message_id
        sign_head(session, state, signer)
    return True


def record_outcome(
    db: Database, due: Due, message_id: str, result: SendResult, signer: HeadSigner | None
) -> None:
    """Record what the server said (an unknown outcome is left pending: nothing is known)."""
    if result.outcome is Outcome.UNKNOWN:
        return
    payload: dict[str, object] = {
        "code": due.code,
        "number": due.number,
        "to": due.address,
        "message_id": message_id,
        "reply": result.reply,
    }
    if result.outcome is not Outcome.SENT:
        payload["smtp_code"] = result.code
    with db.write() as (session, state):
        event = append_event(session, state, f"delivery.{result.outcome.value}", payload)
        session.flush()
        row = session.get(DeliveryRow, (due.code, due.number, due.address))
        assert row is not None  # its attempt was committed before the message went out
        row.status, row.reply, row.event_seq = result.outcome.value, result.reply, event.seq
        sign_head(session, state, signer)
