"""The heads of the tiers below, as this ledger's own chain records them (docs/security.md,
"Transmission import"): each ``transmission.imported`` event names the package's last event and
head, and this ledger's signed heads cover those events. ``peer_heads`` is a copy an insider can
edit; the import (``receipts.transmission.held_heads``) and the audit
(``receipts.audit.transmissions``) hold it to these."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.ledger.models import Event

__all__ = ["IMPORTED", "RecordedHead", "recorded_heads"]

IMPORTED = "transmission.imported"
"""The event kind that records an imported package."""


@dataclass(frozen=True)
class RecordedHead:
    """The furthest head a sender's imported packages reached, as the events record it."""

    event_count: int
    head_hash: str
    seq: int
    """The event that recorded it."""


def recorded_heads(session: Session) -> dict[str, RecordedHead]:
    """Per sender, the furthest head its imports recorded."""
    out: dict[str, RecordedHead] = {}
    query = select(Event.seq, Event.payload).where(Event.kind == IMPORTED).order_by(Event.seq)
    for seq, payload in session.execute(query):
        facts = json.loads(payload)
        sender, last = str(facts["from"]), int(facts["last"])
        known = out.get(sender)
        if known is None or last >= known.event_count:
            out[sender] = RecordedHead(last, str(facts["head"]), int(seq))
    return out
