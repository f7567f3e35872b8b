"""The head the next package from a tier below must continue (docs/security.md, "Transmission
import"): ``peer_heads`` keeps the newest signed head per sender, but it is a table an insider
can edit (with its row deleted, a sender's rewritten chain was taken as a first package). The
truth is the chain's own ``transmission.imported`` events (:mod:`receipts.ledger.peer_heads`):
a ``peer_heads`` row that says otherwise, or is missing, refuses the import."""

from __future__ import annotations

from sqlalchemy.orm import Session

from receipts.ledger.models import PeerHead
from receipts.ledger.peer_heads import recorded_heads
from receipts.transmission.package import RefusedPackage

__all__ = ["held_head"]


def held_head(session: Session, sender: str, what: str) -> tuple[int, str] | None:
    """The head the next package from ``sender`` must continue (None: nothing imported from it
    yet), once ``peer_heads`` agrees with the events; refused when it does not."""
    recorded = recorded_heads(session).get(sender)
    peer = session.get(PeerHead, sender)
    held = None if peer is None else (peer.event_count, peer.head_hash)
    expected = None if recorded is None else (recorded.event_count, recorded.head_hash)
    if held != expected:
        where = "no import from it" if recorded is None else f"event {recorded.seq}"
        raise RefusedPackage(
            f"{what}: the head held for {sender} ({held}) is not the one the ledger's imports "
            f"recorded ({where}): the peer_heads table was changed; run 'receipts audit'"
        )
    return expected
