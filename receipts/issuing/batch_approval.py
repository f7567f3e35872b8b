"""Big batches need a second person: a batch file over the workspace's threshold (receipts or
total amount, ``[approvals]`` in ``receipts.toml``) is issued only once a reviewer other than the
issuing clerk approved that exact file, by its SHA-256 (docs/operations.md, "Two people:
reversals and big batches").

An approval is an event (``batch.approved``, naming the digest, the receipts and the total); the
``batch_approvals`` table is derived from it and ``receipts audit`` re-derives it. An approval
stays valid for its file, so a batch interrupted half-way is rerun without a new one (its client
references issue nothing twice); a file edited after approval has another digest and needs one.
A workspace without operators needs no approval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from receipts.domain.enums import OperatorRole
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import check_text
from receipts.domain.money import from_fen, parse_amount, to_fen
from receipts.errors import InvalidInput, NotPermitted
from receipts.issuing.operator_roles import require_role, same_person
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import BatchApprovalRow

__all__ = [
    "BatchApproval",
    "BatchThreshold",
    "BatchTotals",
    "approve_batch",
    "batch_approvals",
    "check_batch",
    "file_digest",
]


@dataclass(frozen=True)
class BatchTotals:
    """What a batch file asks for."""

    receipts: int
    """Receipts (a receipt of several items spans several CSV rows)."""
    total: Decimal
    """Their total, yuan."""

    @classmethod
    def of(cls, requests: Iterable[IssueRequest]) -> BatchTotals:
        """The totals of the receipts a file asks for."""
        count, total = 0, Decimal("0.00")
        for request in requests:
            count += 1
            total += sum((item.amount for item in request.items), Decimal("0.00"))
        return cls(count, total)

    def describe(self) -> str:
        """``150 receipts, ¥2,000,000.00``."""
        return f"{self.receipts} receipts, ¥{self.total:,.2f}"


@dataclass(frozen=True)
class BatchThreshold:
    """Above this a batch needs a reviewer's approval (either limit suffices)."""

    receipts: int = 100
    """More receipts than this in one file."""
    total: Decimal = Decimal("1000000.00")
    """A larger total than this, yuan."""

    def __post_init__(self) -> None:
        if isinstance(self.receipts, bool) or not isinstance(self.receipts, int):
            raise InvalidInput("[approvals] batch_receipts must be a whole number")
        if self.receipts < 0:
            raise InvalidInput("[approvals] batch_receipts must not be negative")
        object.__setattr__(self, "total", parse_amount(self.total))

    def exceeded_by(self, totals: BatchTotals) -> bool:
        """Whether ``totals`` need an approval."""
        return totals.receipts > self.receipts or totals.total > self.total

    def describe(self) -> str:
        """``100 receipts or ¥1,000,000.00``."""
        return f"{self.receipts} receipts or ¥{self.total:,.2f}"


@dataclass(frozen=True)
class BatchApproval:
    """A reviewer's approval of one batch file."""

    digest: str
    """SHA-256 of the file's bytes."""
    file_name: str
    """The file's name when it was approved (for people; the digest is what counts)."""
    totals: BatchTotals
    """What it asks for."""
    approved_by: str
    """The reviewer."""
    approved_at: datetime
    """When (UTC)."""


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None


def approve_batch(
    db: Database,
    file_name: str,
    digest: str,
    totals: BatchTotals,
    approved_by: str,
    signer: HeadSigner | None,
) -> tuple[BatchApproval, bool]:
    """Record a reviewer's approval of the file with ``digest``; False with the earlier
    approval when the same content was approved already."""
    check_text(approved_by, "operator", maximum=100)
    name = Path(file_name).name[:255] or "batch"
    with db.write() as (session, state):
        require_role(session, approved_by, "approving a batch", OperatorRole.REVIEWER)
        earlier = session.get(BatchApprovalRow, digest)
        if earlier is not None:
            return _approval(earlier), False
        moment = datetime.now(UTC).replace(microsecond=0)
        payload = {
            "digest": digest,
            "file": name,
            "receipts": totals.receipts,
            "total": f"{totals.total:.2f}",
            "approved_by": approved_by,
        }
        event = append_event(session, state, "batch.approved", payload, moment)
        session.flush()
        row = BatchApprovalRow(
            digest=digest,
            file_name=name,
            rows=totals.receipts,
            total_fen=to_fen(totals.total),
            approved_by=approved_by,
            approved_at=moment,
            event_seq=event.seq,
        )
        session.add(row)
        sign_head(session, state, signer)
        return _approval(row), True


def check_batch(
    db: Database,
    file_name: str,
    digest: str,
    totals: BatchTotals,
    clerk: str | None,
    threshold: BatchThreshold,
) -> BatchApproval | None:
    """Refuse a batch over ``threshold`` that no reviewer other than ``clerk`` approved (by
    digest); the approval that lets it through, or None when none is needed (under the
    threshold, or ``clerk`` None: a workspace without operators)."""
    if clerk is None or not threshold.exceeded_by(totals):
        return None
    rule = (
        f"batch {file_name} ({totals.describe()}) is over the approval threshold "
        f"({threshold.describe()}) and needs approval by a reviewer other than {clerk}"
    )
    with db.read() as session:
        row = session.get(BatchApprovalRow, digest)
        if row is None:
            raise NotPermitted(
                f"{rule}; no approval matches this file's content (SHA-256 {digest[:16]}…)"
            )
        if same_person(row.approved_by, clerk):
            raise NotPermitted(rule)
        if (row.rows, row.total_fen) != (totals.receipts, to_fen(totals.total)):
            raise NotPermitted(f"{rule}; the file changed while it was read")
        return _approval(row)


def batch_approvals(db: Database) -> list[BatchApproval]:
    """Every approval, oldest first."""
    with db.read() as session:
        rows = session.scalars(select(BatchApprovalRow).order_by(BatchApprovalRow.event_seq))
        return [_approval(row) for row in rows]


def _approval(row: BatchApprovalRow) -> BatchApproval:
    totals = BatchTotals(row.rows, from_fen(row.total_fen))
    return BatchApproval(row.digest, row.file_name, totals, row.approved_by, row.approved_at)
