"""The audit of the event chain itself: every event's hash and link, the ledger's tip, and the
signed heads that anchor the chain (``docs/security.md``).

A head counts only when its certificate is one of the workspace's own (recorded in the workspace
folder, :mod:`receipts.pki.own_certificates`) and, unless it is a payer's self-signed ledger-key
certificate, chains to the trust bundle as of the head's time: anyone can make a certificate
that merely names the organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.events import event_hash, head_message, rfc3339
from receipts.ledger.migrate import GENESIS_HASH
from receipts.ledger.models import ChainHead, Event, LedgerState
from receipts.pki.own_certificates import OwnCertificate, own_signer_problem
from signing.seal import verify_seal
from signing.trust import ChainValidator

__all__ = ["HeadKeys", "check_chain", "check_heads"]


@dataclass(frozen=True)
class HeadKeys:
    """What a signed head must be signed with."""

    own: tuple[OwnCertificate, ...]
    """The workspace's own head-signing certificates, current and past."""
    validator: ChainValidator | None
    """Validation against the workspace's trust bundle (None: it has none)."""

    @property
    def since(self) -> datetime | None:
        """When the workspace first had a key to sign heads with (None: it never had one)."""
        return min((own.since for own in self.own), default=None)


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
        recomputed = event_hash(
            prev, event.seq, rfc3339(event.at), event.kind, event.payload, event.operator
        )
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
    session: Session, events: list[Event], org_code: str, keys: HeadKeys
) -> tuple[list[Finding], int, int]:
    """Check every signed head against the chain, its signature and the workspace's own keys:
    the findings, the number of heads, and the number of events after the last valid one."""
    heads = list(session.scalars(select(ChainHead).order_by(ChainHead.event_count)))
    by_seq = {e.seq: e for e in events}
    findings: list[Finding] = []
    anchored = 0
    for head in heads:
        problem = _head_problem(head, by_seq.get(head.event_count), len(events), org_code, keys)
        if problem is None:
            anchored = max(anchored, head.event_count)
        else:
            findings.append(problem)
    unanchored = len(events) - anchored
    since = keys.since
    late = [e for e in events[anchored:] if since is not None and e.at >= since]
    if heads and unanchored:
        # Every transaction signs its head once the workspace has a key: events past the last
        # signed head were written around the ledger, not through it.
        tail = (
            f"{unanchored} event(s) after the last signed head (event {anchored}) carry no "
            "signature"
        )
        findings.append(Finding(FindingCode.UNSIGNED_TAIL, tail))
    elif late:
        # No head at all, yet events were committed after the workspace had its key: each of
        # those transactions signed a head, and the heads are gone.
        gone = (
            f"{len(late)} event(s) from event {late[0].seq} on were committed after this "
            f"workspace had its signing key ({since:%Y-%m-%d %H:%M} UTC), but no signed head "
            "covers them: the heads were deleted"
        )
        findings.append(Finding(FindingCode.EVENTS_UNANCHORED, gone))
    return findings, len(heads), unanchored


def _head_problem(
    head: ChainHead, event: Event | None, length: int, org_code: str, keys: HeadKeys
) -> Finding | None:
    at = head.event_count
    if event is None:
        beyond = f"a signed head covers {at} events but the chain has only {length}"
        return Finding(FindingCode.CHAIN_TRUNCATED, beyond)
    if event.hash != head.head_hash:
        other = f"the signed head at event {at} does not match the chain"
        return Finding(FindingCode.HEAD_MISMATCH, other)
    problem = _head_signature_problem(head, org_code, keys)
    if problem is not None:
        return Finding(FindingCode.HEAD_INVALID, f"the signed head at event {at}: {problem}")
    return None


def _head_signature_problem(head: ChainHead, org_code: str, keys: HeadKeys) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(head.certificate)
    except ValueError:
        return "its certificate is unreadable"
    problem = own_signer_problem(cert, keys.own, org_code, keys.validator, head.signed_at)
    if problem is not None:
        return problem
    if not verify_seal(
        cert, head_message(org_code, head.event_count, head.head_hash), head.signature
    ):
        return "its signature does not verify"
    return None
