"""The audit of the event chain itself: every event's hash and link, the ledger's tip, and the
signed heads that anchor the chain (``docs/security.md``)."""

from __future__ import annotations

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.events import event_hash, head_message, rfc3339
from receipts.ledger.migrate import GENESIS_HASH
from receipts.ledger.models import ChainHead, Event, LedgerState
from receipts.pki.ledger_key import identifier_of
from signing.seal import verify_seal

__all__ = ["check_chain", "check_heads"]


def check_chain(session: Session, events: list[Event]) -> list[Finding]:
    """Recompute the chain in order; the first broken link ends the walk (what follows it cannot
    be trusted), then the ledger's tip row must name the chain's length and last hash."""
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(events, 1):
        if event.seq != expected_seq:
            missing = f"event {expected_seq} is missing (found {event.seq} in its place)"
            return [Finding(FindingCode.CHAIN_BROKEN, missing)]
        if event.prev_hash != prev:
            unlinked = (
                f"event {event.seq} does not link to event {event.seq - 1} (reordered or replaced)"
            )
            return [Finding(FindingCode.CHAIN_BROKEN, unlinked)]
        recomputed = event_hash(prev, event.seq, rfc3339(event.at), event.kind, event.payload)
        if recomputed != event.hash:
            altered = (
                f"event {event.seq} ({event.kind}) was altered: its hash does not match its content"
            )
            return [Finding(FindingCode.EVENT_ALTERED, altered)]
        prev = event.hash
    state = session.get(LedgerState, 1)
    if state is None or state.event_count != len(events) or state.head_hash != prev:
        count = state.event_count if state else "no"
        tip = f"the ledger's tip says {count} events, the chain has {len(events)}"
        return [Finding(FindingCode.CHAIN_TRUNCATED, tip)]
    return []


def check_heads(
    session: Session, events: list[Event], org_code: str
) -> tuple[list[Finding], int, int]:
    """Check every signed head against the chain and its signature: the findings, the number of
    heads, and the number of events after the last valid one (unanchored)."""
    heads = list(session.scalars(select(ChainHead).order_by(ChainHead.event_count)))
    by_seq = {e.seq: e for e in events}
    findings: list[Finding] = []
    anchored = 0
    for head in heads:
        problem = _head_problem(head, by_seq.get(head.event_count), len(events), org_code)
        if problem is None:
            anchored = max(anchored, head.event_count)
        else:
            findings.append(problem)
    unanchored = len(events) - anchored
    if heads and unanchored:
        # Every transaction signs its head once the workspace has a key: events past the last
        # signed head were written around the ledger, not through it.
        tail = (
            f"{unanchored} event(s) after the last signed head (event {anchored}) carry no "
            "signature"
        )
        findings.append(Finding(FindingCode.UNSIGNED_TAIL, tail))
    return findings, len(heads), unanchored


def _head_problem(
    head: ChainHead, event: Event | None, length: int, org_code: str
) -> Finding | None:
    at = head.event_count
    if event is None:
        beyond = f"a signed head covers {at} events but the chain has only {length}"
        return Finding(FindingCode.CHAIN_TRUNCATED, beyond)
    if event.hash != head.head_hash:
        other = f"the signed head at event {at} does not match the chain"
        return Finding(FindingCode.HEAD_MISMATCH, other)
    if not _head_signature_ok(head, org_code):
        forged = f"the signature of the head at event {at} does not verify"
        return Finding(FindingCode.HEAD_INVALID, forged)
    return None


def _head_signature_ok(head: ChainHead, org_code: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(head.certificate)
        if identifier_of(cert) != org_code:
            return False
        return verify_seal(
            cert, head_message(org_code, head.event_count, head.head_hash), head.signature
        )
    except Exception:  # any unreadable head is simply not valid
        return False
