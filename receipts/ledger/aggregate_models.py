"""The statistics' aggregates (docs/statistics.md): counts and fen sums of the receipts, kept up
to date by database triggers in the transaction of every write into ``receipts`` and
``receipt_items`` (migration 0016), so that ``receipts stats`` reads them and never scans the
receipts. Derived data, like every table but the events: ``receipts audit`` recomputes them
from the rows (:mod:`receipts.audit.aggregates`).

The status of a receipt here is the one of the statistics (:mod:`receipts.stats.figures`):
``issued`` (a normal receipt still standing), ``reversed`` (a normal receipt a red receipt
cancels) or ``red`` (a red receipt). When a red receipt arrives, the triggers move its original
from ``issued`` to ``reversed``, whichever of the two was stored first. Rows whose counts fall to
zero stay; readers skip them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base

__all__ = ["AGGREGATE_STATUSES", "LINE_DIMENSIONS", "StatsLineRow", "StatsReceiptRow"]

#: The statuses an aggregate row is kept under.
AGGREGATE_STATUSES = ("issued", "reversed", "red")
#: What a line aggregate groups by: the item code or the 所属期 (``item_period``).
LINE_DIMENSIONS = ("item", "paid")


class StatsReceiptRow(Base):
    """The receipts of one month of issue, issuer, payer kind and status: how many, and their
    total in fen (a red receipt's is negative)."""

    __tablename__ = "stats_receipts"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(6), primary_key=True)
    payer_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    receipts: Mapped[int] = mapped_column(BigInteger)
    fen: Mapped[int] = mapped_column(BigInteger)


class StatsLineRow(Base):
    """The receipt lines of one month of issue, issuer and status under one item code
    (``dimension`` ``item``) or one 所属期 (``paid``): the receipts that have such a line (a
    receipt with two lines of one key counts once) and the lines' amount in fen."""

    __tablename__ = "stats_lines"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(6), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(5), primary_key=True)
    key: Mapped[str] = mapped_column(String(15), primary_key=True)
    receipts: Mapped[int] = mapped_column(BigInteger)
    fen: Mapped[int] = mapped_column(BigInteger)
