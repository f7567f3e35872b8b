"""The declared wage bills (计拨工资总额) of registered payers, per 所属期: a cache of the
``wages.declared`` events (docs/arrears.md), re-derived by ``receipts audit``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base

__all__ = ["WageDeclarationRow"]


class WageDeclarationRow(Base):
    """One declaration of a payer's wage bill for a 所属期, as its event recorded it. A
    correction is a new row naming the one it ``supersedes``; rows are never changed, so the
    history of every declaration stays (the current one is the row nothing supersedes)."""

    __tablename__ = "wage_declarations"

    event_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.seq"), primary_key=True, autoincrement=False
    )
    uscc: Mapped[str] = mapped_column(String(18))
    period: Mapped[str] = mapped_column(String(15))  # 所属期, canonical
    wage_fen: Mapped[int] = mapped_column(BigInteger)
    declared_on: Mapped[date] = mapped_column(Date())
    source: Mapped[str] = mapped_column(String(100))
    supersedes: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("wage_declarations_uscc", "uscc", "period"),)
