"""The deliveries table (docs/delivery.md): one row per receipt and address it was sent to, the
cache of the ``delivery.*`` events, re-derived by ``receipts audit``
(:mod:`receipts.audit.deliveries`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base

__all__ = ["DELIVERY_STATUSES", "DeliveryRow"]

#: ``pending``: an attempt was recorded and no outcome yet (sending, or the outcome is unknown);
#: ``sent``: the server accepted the message; ``bounced``: refused for good (5xx);
#: ``deferred``: refused for now (4xx, a connection lost before the message was handed over).
DELIVERY_STATUSES = ("pending", "sent", "bounced", "deferred")


class DeliveryRow(Base):
    """A receipt's delivery to one address: its newest state, from its ``delivery.*`` events."""

    __tablename__ = "deliveries"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    reply: Mapped[str | None] = mapped_column(String(300))
    """The server's last reply (code and text), None before one or after a lost connection."""
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))
    """The newest ``delivery.*`` event of this receipt and address."""

    __table_args__ = (Index("deliveries_status", "status"),)
