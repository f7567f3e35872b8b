"""The audit of the ledger against its signed anchor in the workspace folder
(:mod:`receipts.ledger.anchor`, ``docs/security.md``): a ledger behind its anchor was truncated
or rewritten below what the workspace's key once signed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.anchor import SignedAnchor, ledger_behind, ledger_facts
from receipts.ledger.models import LedgerState
from receipts.pki.anchor_file import (
    ANCHOR_FILE,
    AnchorUnreadable,
    anchor_problem,
    load_anchor,
    missing_anchor_problem,
)
from receipts.pki.own_certificates import OwnCertificate
from signing.trust import ChainValidator

__all__ = ["AnchorRead", "check_anchor", "read_anchor"]


@dataclass(frozen=True)
class AnchorRead:
    """The workspace's anchor file as read for the audit."""

    path: Path
    """Where it is."""
    anchor: SignedAnchor | None
    """The anchor; None when there is no file or it is unreadable."""
    error: str | None = None
    """Why the file could not be read, if so."""


def read_anchor(home: Path) -> AnchorRead:
    """The anchor file of the workspace at ``home``."""
    path = home / ANCHOR_FILE
    try:
        return AnchorRead(path, load_anchor(path))
    except AnchorUnreadable as exc:
        return AnchorRead(path, None, str(exc))


def check_anchor(
    session: Session,
    read: AnchorRead,
    org_code: str,
    own: tuple[OwnCertificate, ...],
    validator: ChainValidator | None,
) -> tuple[list[Finding], list[str]]:
    """Findings (an untrustworthy anchor, a ledger behind it) and notes (no anchor yet, an
    anchor behind the ledger: a crash between a commit and the anchor's update)."""
    if read.error is not None:
        return [Finding(FindingCode.ANCHOR_INVALID, read.error)], []
    anchor = read.anchor
    if anchor is None:
        missing = missing_anchor_problem(session)
        if missing is not None:
            return [Finding(FindingCode.ANCHOR_MISSING, missing)], []
        return [], [f"no ledger anchor ({read.path.name}) yet: the next signed write makes it"]
    problem = anchor_problem(anchor, org_code, own, validator)
    if problem is not None:
        return [Finding(FindingCode.ANCHOR_INVALID, f"{read.path}: {problem}")], []
    state = session.get(LedgerState, 1)
    if state is None:
        return [], []
    current = ledger_facts(session, state)
    findings = [
        Finding(FindingCode.LEDGER_BEHIND_ANCHOR, problem)
        for problem in ledger_behind(session, anchor.facts, current)
    ]
    notes = []
    if anchor.facts.event_count < current.event_count:
        notes.append(
            f"the ledger anchor covers {anchor.facts.event_count} of {current.event_count} "
            "events (a write ended between its commit and the anchor's update, or was made "
            "without the workspace); the next signed write brings it up to date"
        )
    return findings, notes
