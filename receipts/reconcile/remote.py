"""Reconciliation with another tier's node, both rounds in one go (docs/operations.md, "Push and
sync"): the same exchange as the files of ``reconcile summary`` and ``reconcile tiers``
(:mod:`receipts.reconcile.tiers`), with the other side's summaries asked for by ``ask`` (the
command layer's signed HTTP call) instead of carried by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner
from receipts.reconcile.block_reader import ledger_issuers
from receipts.reconcile.exchange import TierFinding
from receipts.reconcile.tiers import TierResult, reconcile_tiers
from signing.trust import ChainValidator

__all__ = ["MAX_ROUNDS", "RemoteReconciliation", "reconcile_remote"]

MAX_ROUNDS = 6
"""The first round, the answer to its request, and a few more for listings deferred because
they did not fit in one signed file."""


@dataclass(frozen=True)
class RemoteReconciliation:
    """Every round of one reconciliation with a node."""

    issuers: tuple[str, ...]
    """The issuers compared (this ledger's)."""
    rounds: tuple[TierResult, ...]
    """Each round's comparison, in order."""

    @property
    def findings(self) -> list[TierFinding]:
        """Every missing, extra and differing receipt named in any round."""
        return [f for r in self.rounds for f in r.comparison.findings]

    @property
    def settled(self) -> bool:
        """No block is left to list (the last round asked for nothing more)."""
        return self.rounds[-1].request is None

    @property
    def agree(self) -> bool:
        """Both ledgers hold the same receipts of these issuers."""
        return self.settled and not self.findings


def reconcile_remote(
    db: Database,
    validator: ChainValidator,
    own_org: str,
    signer: HeadSigner | None,
    ask: Callable[[tuple[str, ...], bytes | None], bytes],
) -> RemoteReconciliation:
    """Compare this ledger with the node ``ask`` reaches: its summary of this ledger's issuers,
    then its answers to our requests, until nothing remains to be listed."""
    issuers = ledger_issuers(db, own_org)
    rounds: list[TierResult] = []
    request: bytes | None = None
    for _ in range(MAX_ROUNDS):
        result = reconcile_tiers(db, ask(issuers, request), validator, own_org, signer)
        rounds.append(result)
        if result.request is None:
            break
        request = result.request
    return RemoteReconciliation(issuers, tuple(rounds))
