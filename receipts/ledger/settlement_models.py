"""Shares stored with receipts and the settlement between tiers (docs/settlement.md): caches of
the ``receipt.issued`` / ``receipt.imported`` events and of the ``sharing.*`` and
``settlement.*`` events, re-derived by ``receipts audit``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base, UtcDateTime

__all__ = ["ReceiptShareRow", "SettlementStatementRow", "SettlementTransferRow", "SharingTableRow"]


class ReceiptShareRow(Base):
    """The shares of one receipt line in integer fen, one column per party (a row per line, not
    per party: a period's settlement is one GROUP BY over these rows). Red receipts negative."""

    __tablename__ = "receipt_shares"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issuer: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(7))
    item_code: Mapped[str] = mapped_column(String(10))
    situation: Mapped[str] = mapped_column(String(20))
    rules_digest: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    grassroots_fen: Mapped[int] = mapped_column(BigInteger)
    county_fen: Mapped[int] = mapped_column(BigInteger)
    city_fen: Mapped[int] = mapped_column(BigInteger)
    province_fen: Mapped[int] = mapped_column(BigInteger)
    national_fen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "grassroots_fen + county_fen + city_fen + province_fen + national_fen = amount_fen",
            name="receipt_shares_sum",
        ),
        Index("receipt_shares_issuer_period", "issuer", "period"),
    )


class SharingTableRow(Base):
    """A sharing table adopted by this ledger (its XML, ``schemas/sharing.xsd``; signed when it
    came from the province); the newest is in force."""

    __tablename__ = "sharing_tables"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    origin: Mapped[str] = mapped_column(String(20))  # default | own | upstream
    adopted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_seq: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("events.seq"))
    """The ``sharing.adopted`` event; None for the configured default, which the receipt events
    using it name by digest."""


class SettlementStatementRow(Base):
    """A federation's signed settlement statement for a period: made here (``out``) or imported
    from a child (``in``)."""

    __tablename__ = "settlement_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))
    federation: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(7))
    digest: Mapped[str] = mapped_column(String(64))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    upward_fen: Mapped[int] = mapped_column(BigInteger)
    grassroots_fen: Mapped[int] = mapped_column(BigInteger)
    made_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))

    __table_args__ = (
        UniqueConstraint("direction", "digest", name="settlement_statements_digest"),
        Index("settlement_statements_period", "period", "federation"),
    )


class SettlementTransferRow(Base):
    """A transfer this federation made for a period's settlement, recorded when made."""

    __tablename__ = "settlement_transfers"

    event_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.seq"), primary_key=True, autoincrement=False
    )
    federation: Mapped[str] = mapped_column(String(6))
    payee: Mapped[str] = mapped_column(String(20))  # the upstream's code, or "grassroots"
    period: Mapped[str] = mapped_column(String(7))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date] = mapped_column(Date())
    reference: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("settlement_transfers_period", "period", "payee"),)
