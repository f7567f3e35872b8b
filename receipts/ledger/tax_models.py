"""The ledger's rows of tax-collected union dues (税务代收, docs/tax.md): the tax bureau's
collection records with their shares, a cache of the ``tax.imported`` events that
``receipts audit`` re-derives (:mod:`receipts.audit.tax`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base

__all__ = ["TaxCollectionRow"]


class TaxCollectionRow(Base):
    """One record of the tax bureau: a payer's dues for an item and 所属期, collected on a day
    under a tax voucher (完税凭证号), on behalf of ``issuer``."""

    __tablename__ = "tax_collections"

    voucher: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(6))
    uscc: Mapped[str] = mapped_column(String(18))
    payer_name: Mapped[str | None] = mapped_column(String(100))
    item_code: Mapped[str] = mapped_column(String(4))
    period: Mapped[str] = mapped_column(String(15))  # 所属期, canonical (payment_period)
    first_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, for overlap queries
    last_month: Mapped[str] = mapped_column(String(7))
    base_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    collected_on: Mapped[date] = mapped_column(Date)
    # The shares (分成) of amount_fen under the sharing table rules_digest, situation
    # tax_collected, computed at import (docs/tax.md "Income and settlement").
    rules_digest: Mapped[str] = mapped_column(String(64))
    grassroots_fen: Mapped[int] = mapped_column(BigInteger)
    county_fen: Mapped[int] = mapped_column(BigInteger)
    city_fen: Mapped[int] = mapped_column(BigInteger)
    province_fen: Mapped[int] = mapped_column(BigInteger)
    national_fen: Mapped[int] = mapped_column(BigInteger)
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))

    __table_args__ = (
        Index("tax_collections_payer", "issuer", "uscc", "item_code"),
        Index("tax_collections_collected", "issuer", "collected_on"),
        CheckConstraint(
            "grassroots_fen + county_fen + city_fen + province_fen + national_fen = amount_fen",
            name="tax_collections_shares_sum",
        ),
    )
