"""``receipts audit``: recompute the event chain, check the signed heads, verify every stored
receipt's signature, re-derive every other table from the signed XML and the events, and hold
the ledger against its signed anchor (``docs/security.md``). Findings are data, not exceptions;
their codes are listed in ``docs/finding-codes.md``.

What each check catches: an edited event (its hash), a deleted or reordered event (sequence and
links), a truncated tail (a signed head beyond the chain, the tip row, the anchor), heads
deleted or re-signed by a key that is not the workspace's own, a forged receipt (its signature),
an edited receipt (its digest against its event, its fields against its XML), a deleted or
inserted row (rows without events, events without rows). :mod:`receipts.audit.chain` checks the
chain and its signed heads, :mod:`receipts.audit.signatures` the receipts' signatures,
:mod:`receipts.audit.anchoring` the anchor, :mod:`receipts.audit.rows` the derived tables,
:mod:`receipts.audit.aggregates` the statistics' aggregates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import func, select

from receipts.audit.aggregates import check_aggregates
from receipts.audit.anchoring import AnchorRead, check_anchor, read_anchor
from receipts.audit.approvals import check_approvals
from receipts.audit.chain import HeadKeys, check_chain, check_heads
from receipts.audit.deliveries import check_deliveries
from receipts.audit.operators import check_operators, per_operator
from receipts.audit.payers import check_payers
from receipts.audit.rows import (
    RECEIPT_EVENTS,
    check_archives,
    check_bookings,
    check_counters_and_references,
    check_periods,
    check_receipts,
    check_segments,
    recorded_receipts,
)
from receipts.audit.shares import check_settlement, check_shares
from receipts.audit.signatures import check_signatures
from receipts.audit.tax import check_tax_collections
from receipts.audit.timestamps import check_timestamps
from receipts.audit.transmissions import check_transmissions
from receipts.domain.signed_documents import chain_validator
from receipts.findings import Finding
from receipts.ledger.database import Database
from receipts.ledger.models import Event, ReceiptRow
from receipts.ledger.partitions import detached_receipts
from receipts.pki.own_certificates import OwnCertificate, own_certificates
from receipts.workspace import Workspace
from signing.trust import TrustBundle

__all__ = ["RECEIPT_EVENTS", "AuditReport", "AuditTrust", "audit", "workspace_trust"]

#: Below this many receipts, signatures are verified in this process (a pool costs more).
_POOL_FROM = 64


@dataclass(frozen=True)
class AuditTrust:
    """What the audit holds the ledger against: the workspace's own keys, its trust, its
    anchor. All of it lives outside the database."""

    own: tuple[OwnCertificate, ...]
    """The workspace's own head-signing certificates (none: it never had a key)."""
    bundle: TrustBundle | None
    """The trust bundle receipts and certificates are verified against (None: it has none)."""
    anchor: AnchorRead | None = None
    """The ledger's signed anchor file (None: the ledger is not anchored, a library use)."""


def workspace_trust(workspace: Workspace, bundle: TrustBundle | None = None) -> AuditTrust:
    """The own certificates, trust bundle and anchor file of ``workspace``; ``bundle`` (an
    auditor's own) replaces the workspace's trust bundle when given."""
    bundle_path = workspace.trust_dir / "bundle.pem"
    if bundle is None and bundle_path.is_file():
        bundle = TrustBundle.load(bundle_path)
    return AuditTrust(own_certificates(workspace), bundle, read_anchor(workspace.home))


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
    notes: tuple[str, ...] = ()
    """Facts worth knowing that are not problems (the anchor lagging after a crash, say)."""
    operators: dict[str, dict[str, int]] = field(default_factory=dict)
    """Events per operator and kind (``-``: written without an operator)."""

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def audit(
    db: Database, org_code: str, trust: AuditTrust, workers: int | None = None
) -> AuditReport:
    """Audit the whole ledger of ``org_code`` against ``trust``; receipts' signatures are
    verified in ``workers`` processes (default: one per core on a large ledger)."""
    validator = chain_validator(trust.bundle) if trust.bundle is not None else None
    notes: list[str] = []
    with db.read() as session:
        events = list(session.scalars(select(Event).order_by(Event.seq)))
        findings = check_chain(session, events)
        head_findings, heads, unanchored = check_heads(
            session, events, org_code, HeadKeys(trust.own, validator)
        )
        findings += head_findings
        if trust.bundle is not None:
            count = session.scalar(select(func.count()).select_from(ReceiptRow)) or 0
            pool = workers or ((os.cpu_count() or 1) if count >= _POOL_FROM else 1)
            findings += check_signatures(session, trust.bundle, pool)
        else:
            notes.append("no trust bundle: the receipts' signatures were not verified")
        recorded = recorded_receipts(events)
        detached = detached_receipts(events)
        findings += check_receipts(session, recorded, detached)
        if detached:
            years = ", ".join(map(str, sorted(set(detached.values()))))
            notes.append(
                f"{len(detached)} receipt(s) of detached year(s) {years} not re-derived: their "
                "rows left the ledger with their year, after their archives were verified"
            )
        findings += check_segments(session, events)
        findings += check_counters_and_references(session, events)
        findings += check_periods(session, events)
        findings += check_archives(session, events)
        findings += check_transmissions(session, events)
        findings += check_bookings(session, events)
        findings += check_approvals(session, events)
        findings += check_payers(session, events)
        findings += check_tax_collections(session, events)
        findings += check_deliveries(session, events)
        findings += check_timestamps(session, events)
        findings += check_operators(session, events)
        findings += check_shares(session, events, detached)
        findings += check_settlement(session, events)
        findings += check_aggregates(session)
        if trust.anchor is not None:
            anchor_findings, anchor_notes = check_anchor(
                session, trust.anchor, org_code, trust.own, validator
            )
            findings += anchor_findings
            notes += anchor_notes
        return AuditReport(
            len(events),
            heads,
            len(recorded),
            unanchored,
            tuple(findings),
            tuple(notes),
            per_operator(events),
        )
