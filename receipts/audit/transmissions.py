"""The audit of what this ledger keeps of the tiers below it: the held heads (``peer_heads``)
and the incoming transmissions, against the ``transmission.imported`` events that recorded them
(docs/security.md, "Transmission import"). The held heads are the tier above's outside copy of
each sender's chain, the one defence left against a sender's rollback: an insider who deleted a
row had a rewritten chain imported as a first package."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.models import Event, PeerHead, Transmission
from receipts.ledger.peer_heads import IMPORTED, heads_of

__all__ = ["check_transmissions"]


def check_transmissions(session: Session, events: list[Event]) -> list[Finding]:
    """Each sender's held head is the furthest its imports recorded; each incoming transmission
    row is one import event's, and each import event has its row."""
    out: list[Finding] = []
    # The import events, parsed once from the events the audit already read.
    imports = [(e.seq, json.loads(e.payload)) for e in events if e.kind == IMPORTED]
    recorded = heads_of(imports)
    held = {
        row.org_code: (row.event_count, row.head_hash) for row in session.scalars(select(PeerHead))
    }
    for sender in sorted(set(recorded) | set(held)):
        head = recorded.get(sender)
        expected = None if head is None else (head.event_count, head.head_hash)
        if held.get(sender) != expected:
            differs = (
                f"the head held for {sender} ({held.get(sender)}) is not the one its imports "
                f"recorded ({expected})"
            )
            out.append(Finding(FindingCode.TRANSMISSION_MISMATCH, differs))
    imported = {
        str(facts["package"]): (str(facts["from"]), facts["first"], facts["last"], facts["head"])
        for _, facts in imports
    }
    rows = session.scalars(select(Transmission).where(Transmission.direction == "in"))
    for row in rows:
        facts = (row.peer, row.first_seq, row.last_seq, row.head_hash)
        if imported.pop(row.digest, None) != facts:
            differs = f"the incoming transmission {row.digest[:12]} differs from its event"
            out.append(Finding(FindingCode.TRANSMISSION_MISMATCH, differs))
    for digest, (sender, *_rest) in sorted(imported.items()):
        gone = f"the transmission {digest[:12]} imported from {sender} has no row"
        out.append(Finding(FindingCode.TRANSMISSION_MISMATCH, gone))
    return out
