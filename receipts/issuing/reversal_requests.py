"""Reversal requests: a red receipt (冲红) is requested by one operator and approved by another
before it is issued (docs/operations.md, "Two people: reversals and big batches").

The workflow knows operators by name only. A request, its approval and its rejection are each
an event (``reversal.requested``, ``reversal.approved``, ``reversal.rejected``); the
``reversal_requests`` table is derived from them, and ``receipts audit`` re-derives it. An
approval issues the red receipt through :func:`receipts.issuing.issue.reverse` and records the
decision in the same transaction, so a crash leaves either both or neither. Who may request,
approve and reject (roles) is checked by :mod:`receipts.issuing.operator_roles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import OperatorRole
from receipts.domain.model import ReceiptRef, check_text
from receipts.errors import InvalidInput, NotPermitted, ReceiptError
from receipts.issuing.issue import IssueOutcome, Issuer, reverse, reversible
from receipts.issuing.operator_roles import require_actor, require_role, same_person
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import LedgerState, ReversalRequestRow

__all__ = [
    "RequestDecided",
    "RequestPending",
    "RequestStatus",
    "ReversalRequest",
    "approve_reversal",
    "list_requests",
    "refuse_same_person",
    "reject_reversal",
    "request_reversal",
    "reverse_in_person",
]


class RequestStatus(StrEnum):
    """Where a reversal request stands."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class RequestPending(ReceiptError):
    """The receipt already has an open reversal request."""

    exit_code = 1


class RequestDecided(ReceiptError):
    """The request was approved or rejected already."""

    exit_code = 1


@dataclass(frozen=True)
class ReversalRequest:
    """A request to red-reverse one receipt, and its decision."""

    id: int
    """Its number in this ledger, from 1."""
    ref: ReceiptRef
    """The receipt to reverse."""
    reason: str
    """Why, as it will be printed on the red receipt."""
    requested_by: str
    """The operator who asked (the red receipt's handler, 开票人)."""
    requested_at: datetime
    """When (UTC)."""
    status: RequestStatus
    """Open, approved or rejected."""
    decided_by: str | None = None
    """The operator who approved (the red receipt's reviewer, 复核人) or rejected it."""
    decided_at: datetime | None = None
    """When (UTC)."""
    decision_reason: str | None = None
    """Why it was rejected."""
    red: ReceiptRef | None = None
    """The red receipt its approval issued."""


def refuse_same_person(handler: str, reviewer: str) -> None:
    """The two-person rule itself: the same name (ignoring case and full-width forms) twice is
    refused with the one line that names the rule."""
    if same_person(handler, reviewer):
        raise NotPermitted(f"reversal needs approval by a reviewer other than {handler}")


def reverse_in_person(
    db: Database,
    issuer: Issuer,
    ref: ReceiptRef,
    reason: str,
    handler: str,
    reviewer: str,
) -> IssueOutcome:
    """A workspace without operators: both people are at the desk, and the red receipt is issued
    at once, as long as they are two (``receipts reverse ... --handler H --reviewer V``)."""
    refuse_same_person(handler, reviewer)
    return reverse(db, issuer, ref, reason, handler, reviewer)


def request_reversal(
    db: Database, ref: ReceiptRef, reason: str, requested_by: str, signer: HeadSigner | None
) -> ReversalRequest:
    """Ask for ``ref`` to be red-reversed; nothing is issued until another operator approves."""
    check_text(reason, "reason", maximum=200)
    check_text(requested_by, "operator", maximum=100)
    moment = _now()
    with db.write() as (session, state):
        require_role(
            session,
            requested_by,
            "requesting a reversal",
            OperatorRole.CLERK,
            OperatorRole.REVIEWER,
        )
        reversible(session, state.org_code, ref)
        pending = _open_request(session, ref)
        if pending is not None:
            raise RequestPending(
                f"{ref} already has open reversal request {pending.id} by {pending.requested_by}"
            )
        last = session.scalars(
            select(ReversalRequestRow.id).order_by(ReversalRequestRow.id.desc())
        ).first()
        request_id = (last or 0) + 1
        payload = {
            "id": request_id,
            "code": ref.code,
            "number": ref.number,
            "reason": reason,
            "requested_by": requested_by,
        }
        event = append_event(session, state, "reversal.requested", payload, moment)
        session.flush()
        row = ReversalRequestRow(
            id=request_id,
            code=ref.code,
            number=ref.number,
            reason=reason,
            requested_by=requested_by,
            requested_at=moment,
            status=RequestStatus.OPEN.value,
            event_seq=event.seq,
        )
        session.add(row)
        sign_head(session, state, signer)
        return _request(row)


def approve_reversal(
    db: Database, issuer: Issuer, request_id: int, approved_by: str
) -> IssueOutcome:
    """Approve an open request: the red receipt is issued with the requester as its handler and
    the approver as its reviewer, and the decision is recorded in the same transaction."""
    check_text(approved_by, "operator", maximum=100)
    with db.read() as session:
        found = _decidable(session, request_id)
        refuse_same_person(found.requested_by, approved_by)
        require_role(session, approved_by, "approving a reversal", OperatorRole.REVIEWER)
        ref = ReceiptRef(found.code, found.number)
        reason, requested_by = found.reason, found.requested_by

    def record(session: Session, state: LedgerState, outcome: IssueOutcome) -> None:
        # Again under the write lock: another reviewer may have decided it meanwhile.
        row = _decidable(session, request_id)
        require_role(session, approved_by, "approving a reversal", OperatorRole.REVIEWER)
        moment = _now()
        payload = {
            "id": request_id,
            "approved_by": approved_by,
            "red_code": outcome.ref.code,
            "red_number": outcome.ref.number,
            "red_digest": outcome.digest,
        }
        append_event(session, state, "reversal.approved", payload, moment)
        row.status = RequestStatus.APPROVED.value
        row.decided_by, row.decided_at = approved_by, moment
        row.red_code, row.red_number = outcome.ref.code, outcome.ref.number

    return reverse(db, issuer, ref, reason, requested_by, approved_by, then=record)


def reject_reversal(
    db: Database, request_id: int, rejected_by: str, reason: str, signer: HeadSigner | None
) -> ReversalRequest:
    """Reject an open request (a reviewer), or withdraw it (its requester); nothing is issued."""
    check_text(rejected_by, "operator", maximum=100)
    check_text(reason, "reason", maximum=200)
    moment = _now()
    with db.write() as (session, state):
        row = _decidable(session, request_id)
        require_actor(session, rejected_by)
        if not same_person(row.requested_by, rejected_by):
            require_role(session, rejected_by, "rejecting a reversal", OperatorRole.REVIEWER)
        payload = {"id": request_id, "rejected_by": rejected_by, "reason": reason}
        append_event(session, state, "reversal.rejected", payload, moment)
        row.status = RequestStatus.REJECTED.value
        row.decided_by, row.decided_at, row.decision_reason = rejected_by, moment, reason
        sign_head(session, state, signer)
        return _request(row)


def list_requests(db: Database, *, open_only: bool = False) -> list[ReversalRequest]:
    """Every request (or the open ones), oldest first."""
    query = select(ReversalRequestRow).order_by(ReversalRequestRow.id)
    if open_only:
        query = query.where(ReversalRequestRow.status == RequestStatus.OPEN.value)
    with db.read() as session:
        return [_request(row) for row in session.scalars(query)]


def _open_request(session: Session, ref: ReceiptRef) -> ReversalRequestRow | None:
    return session.scalars(
        select(ReversalRequestRow).where(
            ReversalRequestRow.code == ref.code,
            ReversalRequestRow.number == ref.number,
            ReversalRequestRow.status == RequestStatus.OPEN.value,
        )
    ).first()


def _decidable(session: Session, request_id: int) -> ReversalRequestRow:
    row = session.get(ReversalRequestRow, request_id)
    if row is None:
        raise InvalidInput(f"there is no reversal request {request_id}")
    if row.status != RequestStatus.OPEN.value:
        raise RequestDecided(f"reversal request {request_id} was {row.status} by {row.decided_by}")
    return row


def _request(row: ReversalRequestRow) -> ReversalRequest:
    red = ReceiptRef(row.red_code, row.red_number) if row.red_code and row.red_number else None
    return ReversalRequest(
        id=row.id,
        ref=ReceiptRef(row.code, row.number),
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=RequestStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        red=red,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
