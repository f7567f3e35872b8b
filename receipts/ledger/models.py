"""The ledger's tables (SQLAlchemy 2 typed ORM). Rows are mapped to and from domain objects
elsewhere; they are not the domain model.

Money is integer fen. Signed XML is stored as bytes exactly as issued, never re-serialised.
Times are UTC. Everything except ``events`` and ``chain_heads`` can be re-derived from the
signed XML and the events (``receipts audit`` does so).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from receipts.ledger.base import Base, UtcDateTime
from receipts.ledger.years import YEAR_CHECK, issue_year_of_row

__all__ = [
    "Archive",
    "Base",
    "BatchApprovalRow",
    "Booking",
    "ChainHead",
    "ClientReference",
    "Event",
    "LedgerState",
    "NumberCounter",
    "OperatorRow",
    "OrganisationRow",
    "PeerHead",
    "PeriodClose",
    "ReceiptItemRow",
    "ReceiptRow",
    "RequestNonce",
    "ReversalRequestRow",
    "Segment",
    "Transmission",
]


class LedgerState(Base):
    """One row: the chain's tip. Every writer locks it first, which serialises writers on
    PostgreSQL the way ``BEGIN IMMEDIATE`` does on SQLite."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_code: Mapped[str] = mapped_column(String(18))
    event_count: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="ledger_state_single_row"),)


class Event(Base):
    """An append-only, hash-chained event (docs/architecture.md)."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator: Mapped[str | None] = mapped_column(String(40))
    """The named operator who wrote it (None: the workspace had no operators); hashed when set."""

    # Operators are derived from their events on every authentication; `receipts log --kind`.
    __table_args__ = (Index("events_kind", "kind"),)


class ChainHead(Base):
    """A signed (count, hash) of the event chain, written after each transaction or batch."""

    __tablename__ = "chain_heads"

    event_count: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(Text)


class OrganisationRow(Base):
    """An organisation known to this ledger."""

    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(12))
    uscc: Mapped[str | None] = mapped_column(String(18))
    parent: Mapped[str | None] = mapped_column(String(6))


class Segment(Base):
    """A number segment CODE:FIRST-LAST allocated to a holder."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), index=True)
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(6), index=True)
    allocated_by: Mapped[str] = mapped_column(String(6))
    allocated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    document: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    written_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("code", "first", name="segments_code_first"),
        CheckConstraint("first >= 1 AND first <= last", name="segments_range"),
    )


class NumberCounter(Base):
    """The last number an issuer took under a code; the next one is found in its segments."""

    __tablename__ = "number_counters"

    issuer: Mapped[str] = mapped_column(String(6), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger)


class ReceiptRow(Base):
    """A receipt: the signed XML exactly as issued, and the fields queries need."""

    __tablename__ = "receipts"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    issue_year: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, default=issue_year_of_row
    )
    """The code's year of issue, the partition key on PostgreSQL (receipts.ledger.partitions)."""
    digest: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    period: Mapped[str] = mapped_column(String(7), index=True)
    check_code: Mapped[str] = mapped_column(String(6))
    payer_name: Mapped[str] = mapped_column(String(100))
    payer_kind: Mapped[str] = mapped_column(String(20))
    payer_id: Mapped[str | None] = mapped_column(String(32))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    original_code: Mapped[str | None] = mapped_column(String(8))
    original_number: Mapped[int | None] = mapped_column(BigInteger)
    xml: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("receipts_original", "original_code", "original_number"),
        # Covering index: reconciliation's block summaries read it alone, not the XML rows.
        Index(
            "receipts_reconcile", "code", "number", "issuer", "digest", "total_fen", "issue_year"
        ),
        # PostgreSQL wants the partition key in every unique constraint; the year is a
        # function of the code and the digest covers the code, so (code, number) and digest
        # stay unique on their own (docs/operations.md, "Partitions by year of issue").
        UniqueConstraint("digest", "issue_year", name="receipts_digest_year"),
        CheckConstraint(YEAR_CHECK, name="receipts_issue_year"),
    )
    # The ORM identifies a receipt by (code, number), as every caller of session.get does.
    __mapper_args__ = {"primary_key": [code, number]}  # noqa: RUF012 (SQLAlchemy's own)


class ReceiptItemRow(Base):
    """One line of a receipt, for statistics by item."""

    __tablename__ = "receipt_items"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_year: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, default=issue_year_of_row
    )
    item_code: Mapped[str] = mapped_column(String(4))
    item_period: Mapped[str] = mapped_column(String(15))  # 所属期, canonical (0005)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint(YEAR_CHECK, name="receipt_items_issue_year"),)
    __mapper_args__ = {"primary_key": [code, number, line]}  # noqa: RUF012 (SQLAlchemy's own)


class ClientReference(Base):
    """A batch's client reference, unique per issuer forever, and what it asked for."""

    __tablename__ = "client_references"

    issuer: Mapped[str] = mapped_column(String(6), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    number: Mapped[int] = mapped_column(BigInteger)
    request: Mapped[str] = mapped_column(Text)


class Booking(Base):
    """A payer's booking (入账) of a receipt; undoing is an event, never a deletion."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    number: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    voucher: Mapped[str] = mapped_column(String(64))
    booked_by: Mapped[str] = mapped_column(String(100))
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))


class PeriodClose(Base):
    """A month of this federation's own issuing that is closed."""

    __tablename__ = "period_closes"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))


class Transmission(Base):
    """A transmission package sent upstream (``out``) or imported from below (``in``)."""

    __tablename__ = "transmissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    peer: Mapped[str] = mapped_column(String(6))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    receipts: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledgement: Mapped[bytes | None] = mapped_column(LargeBinary)


class PeerHead(Base):
    """The newest signed chain head a lower tier transmitted: the outside copy of its ledger."""

    __tablename__ = "peer_heads"

    org_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    event_count: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Archive(Base):
    """An archive package made of a closed period (main) or of later changes (supplementary)."""

    __tablename__ = "archives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(7))
    months: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(13))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    receipts: Mapped[int] = mapped_column(Integer)
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))


class OperatorRow(Base):
    """A named operator: a cache of the ``operator.added`` and ``operator.disabled`` events,
    which are the truth (``receipts audit`` re-derives it; docs/security.md)."""

    __tablename__ = "operators"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean)
    slot: Mapped[str] = mapped_column(String(64))
    added_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))
    disabled_seq: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("events.seq"))


class ReversalRequestRow(Base):
    """A request to red-reverse a receipt, and its decision: the two-person rule of a reversal
    (docs/operations.md). Re-derived from the ``reversal.*`` events by ``receipts audit``."""

    __tablename__ = "reversal_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(8))
    number: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(200))
    red_code: Mapped[str | None] = mapped_column(String(8))
    red_number: Mapped[int | None] = mapped_column(BigInteger)
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))

    __table_args__ = (Index("reversal_requests_receipt", "code", "number"),)


class BatchApprovalRow(Base):
    """A reviewer's approval of one batch file (by its SHA-256) over the workspace's threshold
    (docs/operations.md). Re-derived from the ``batch.approved`` events by ``receipts audit``."""

    __tablename__ = "batch_approvals"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    approved_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))


class RequestNonce(Base):
    """A signed tier API request's nonce, kept while its timestamp is inside the accepted window
    so that a replay is refused by every worker process (docs/security.md, "Tier API
    authentication"). Not part of the event chain: purged as it ages."""

    __tablename__ = "request_nonces"

    org_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("request_nonces_seen", "seen_at"),)


class PayerRow(Base):
    """A registered payer, by USCC, with its current name: a cache of the ``payer.registered``,
    ``payer.renamed`` and ``payer.updated`` events (docs/operations.md, "The payer register"),
    re-derived by ``receipts audit``."""

    __tablename__ = "payers"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    union_uscc: Mapped[str | None] = mapped_column(String(18))
    email: Mapped[str | None] = mapped_column(String(254))
    event_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.seq"))


class PayerNameRow(Base):
    """One name of a registered payer from its effective time: the first from registration, one
    per rename (re-derived from the payer events by ``receipts audit``)."""

    __tablename__ = "payer_names"

    event_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.seq"), primary_key=True, autoincrement=False
    )
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(100))
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("payer_names_uscc", "uscc", "effective_at"),)


# The areas' own tables (each module imports Base from here; imported last so that every table is
# on Base.metadata whenever the ledger's models are).
from receipts.ledger.aggregate_models import *  # noqa: E402,F403
from receipts.ledger.delivery_models import *  # noqa: E402,F403
from receipts.ledger.settlement_models import *  # noqa: E402,F403
from receipts.ledger.tax_models import *  # noqa: E402,F403
from receipts.ledger.timestamp_models import *  # noqa: E402,F403
from receipts.ledger.wages_models import *  # noqa: E402,F403
