"""Signature time-stamps (docs/security.md, "Time-stamps"): the token of each receipt kept
beside it, and the serial log of this workspace's time-stamp authority.

A receipt's row keeps the signed XML exactly as issued, whose digest its ``receipt.*`` event
and every package name. A time-stamp lives in the signature's *unsigned* properties, so adding
it to the XML would change those bytes without changing what was signed; it is kept here
instead, one token per receipt, written with a ``receipt.timestamped`` event naming the token's
digest, and put into the XML only where a receipt leaves the ledger (a transmission package)
(:mod:`receipts.tsa.stamping`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base, UtcDateTime

__all__ = ["ReceiptTimestampRow", "TsaSerialRow"]


class ReceiptTimestampRow(Base):
    """A receipt's signature time-stamp (an RFC 3161 token over its ds:SignatureValue)."""

    __tablename__ = "receipt_timestamps"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token: Mapped[bytes] = mapped_column(LargeBinary)
    """The DER token, as the authority returned it."""
    token_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of ``token``, as the ``receipt.timestamped`` event records it."""
    gen_time: Mapped[datetime] = mapped_column(UtcDateTime())
    """The authority's time in the token."""
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))
    """The ``receipt.timestamped`` event that recorded it."""


class TsaSerialRow(Base):
    """A serial number this workspace's time-stamp authority used: stored before the token is
    handed out, so that no serial is ever used twice (RFC 3161 §2.4.2). Not part of the event
    chain: the tokens are signed, so the log proves nothing a token does not; it only keeps the
    serials unique (docs/security.md, "Time-stamps")."""

    __tablename__ = "tsa_serials"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The serial, lower-case hexadecimal."""
    gen_time: Mapped[datetime] = mapped_column(UtcDateTime())
    imprint: Mapped[str] = mapped_column(String(64))
    """The SHA-256 message imprint stamped, hexadecimal."""

    __table_args__ = (Index("tsa_serials_time", "gen_time"),)
