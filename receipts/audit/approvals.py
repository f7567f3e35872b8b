"""The audit of the two-person rules' tables (docs/operations.md, "Two people: reversals and big
batches"): every reversal request and batch approval row re-derived from the events that
requested, approved and rejected it, so a row edited, inserted or deleted outside the ledger (a
forged approval, say) is a finding."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import parse_amount, to_fen
from receipts.findings import Finding, FindingCode
from receipts.ledger.models import BatchApprovalRow, Event, ReversalRequestRow

__all__ = ["check_approvals"]

_REQUEST_COLUMNS = (
    "code",
    "number",
    "reason",
    "requested_by",
    "requested_at",
    "status",
    "decided_by",
    "decided_at",
    "decision_reason",
    "red_code",
    "red_number",
    "event_seq",
)
_APPROVAL_COLUMNS = ("file_name", "rows", "total_fen", "approved_by", "approved_at", "event_seq")


def check_approvals(session: Session, events: list[Event]) -> list[Finding]:
    """Reversal requests and batch approvals against their events."""
    out: list[Finding] = []
    want = _requests(events)
    have = {
        row.id: {c: getattr(row, c) for c in _REQUEST_COLUMNS}
        for row in session.scalars(select(ReversalRequestRow))
    }
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            differs = f"reversal request {key} differs from its events"
            out.append(Finding(FindingCode.APPROVAL_MISMATCH, differs))
    approved = _batch_approvals(events)
    stored = {
        row.digest: {c: getattr(row, c) for c in _APPROVAL_COLUMNS}
        for row in session.scalars(select(BatchApprovalRow))
    }
    for digest in sorted(set(approved) | set(stored)):
        if approved.get(digest) != stored.get(digest):
            differs = f"approval of batch {digest[:16]}… differs from its event"
            out.append(Finding(FindingCode.APPROVAL_MISMATCH, differs))
    return out


def _requests(events: list[Event]) -> dict[int, dict[str, Any]]:
    """Request id → its row as the events make it."""
    out: dict[int, dict[str, Any]] = {}
    for event in events:
        if not event.kind.startswith("reversal."):
            continue
        p = json.loads(event.payload)
        if event.kind == "reversal.requested":
            out[p["id"]] = {
                **dict.fromkeys(_REQUEST_COLUMNS),
                "code": p["code"],
                "number": p["number"],
                "reason": p["reason"],
                "requested_by": p["requested_by"],
                "requested_at": event.at,
                "status": "open",
                "event_seq": event.seq,
            }
        elif p["id"] in out and event.kind == "reversal.approved":
            red = {"red_code": p["red_code"], "red_number": p["red_number"]}
            out[p["id"]].update(_decision("approved", p["approved_by"], event.at), **red)
        elif p["id"] in out and event.kind == "reversal.rejected":
            out[p["id"]].update(_decision("rejected", p["rejected_by"], event.at))
            out[p["id"]]["decision_reason"] = p["reason"]
    return out


def _decision(status: str, by: str, at: datetime) -> dict[str, Any]:
    return {"status": status, "decided_by": by, "decided_at": at}


def _batch_approvals(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Digest → its approval row as its event makes it."""
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind == "batch.approved":
            p = json.loads(event.payload)
            out[p["digest"]] = {
                "file_name": p["file"],
                "rows": p["receipts"],
                "total_fen": to_fen(parse_amount(p["total"])),
                "approved_by": p["approved_by"],
                "approved_at": event.at,
                "event_seq": event.seq,
            }
    return out
