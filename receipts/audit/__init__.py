"""``receipts audit``: recompute the event chain, check the signed heads, and re-derive every
other table from the signed XML and the events (``docs/security.md``). Findings are data, not
exceptions; their codes are listed in ``docs/finding-codes.md``.

What each check catches: an edited event (its hash), a deleted or reordered event (sequence and
links), a truncated tail (a signed head beyond the chain, or the tip row), an edited receipt
(its digest against its event, its fields against its XML), a deleted or inserted row (rows
without events, events without rows). :mod:`receipts.audit.chain` checks the chain and its
signed heads, :mod:`receipts.audit.rows` the tables derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from receipts.audit.chain import check_chain, check_heads
from receipts.audit.rows import (
    RECEIPT_EVENTS,
    check_bookings,
    check_counters_and_references,
    check_periods,
    check_receipts,
    check_segments,
    recorded_receipts,
)
from receipts.findings import Finding
from receipts.ledger.database import Database
from receipts.ledger.models import Event

__all__ = ["RECEIPT_EVENTS", "AuditReport", "audit"]


@dataclass(frozen=True)
class AuditReport:
    """Everything the audit checked and found."""

    events: int
    """Events in the chain."""
    signed_heads: int
    """Signed heads checked."""
    receipts: int
    """Receipts re-derived."""
    unanchored: int
    """Events after the last signed head (made before the workspace had a signing key)."""
    findings: tuple[Finding, ...]
    """Problems; empty when the ledger is intact."""

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def audit(db: Database, org_code: str) -> AuditReport:
    """Audit the whole ledger of ``org_code``."""
    with db.read() as session:
        events = list(session.scalars(select(Event).order_by(Event.seq)))
        findings = check_chain(session, events)
        head_findings, heads, unanchored = check_heads(session, events, org_code)
        findings += head_findings
        recorded = recorded_receipts(events)
        findings += check_receipts(session, recorded)
        findings += check_segments(session, events)
        findings += check_counters_and_references(session, events)
        findings += check_periods(session, events)
        findings += check_bookings(session, events)
        return AuditReport(len(events), heads, len(recorded), unanchored, tuple(findings))
