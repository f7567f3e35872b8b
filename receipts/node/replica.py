"""Reads from a PostgreSQL streaming replica, writes to the primary (docs/operations.md, "A read
replica for the public"; issue 19, item 3).

The public look-up is most of a node's traffic and only reads, so a province can point it at a hot
standby (``[serve] replica_url``). A standby can lag or be down: every ``check_seconds`` the node
compares the standby's replayed WAL position with the primary's current one, and uses the standby
only while it is reachable, still in recovery (a promoted standby has its own history now),
holds the same ledger (the same first event: not another database, schema or cluster named by
mistake) with the same history (its last event is the primary's: not a standby left following
another primary after a failover) and is either caught up or behind by at most
``max_lag_seconds``. Otherwise reads go
to the primary, and the change is logged once, not per request. The check costs two tiny queries
a second (three when the replica holds events), not one per request.

How far behind is measured with the router's own clock, not with the time of the last commit
the standby replayed: each check notes when the primary's WAL stood where. A standby that has
replayed the position the primary held at time ``t`` holds every commit made before ``t``, so it
is behind by at most ``now - t``. The time of the last replayed commit alone overstates the lag of
a standby on a quiet primary without bound: the primary writes WAL without committing (checkpoints,
page pruning on reads), so a standby a millisecond behind in bytes looked hours behind when the
last commit was hours ago. It is still the measure when no noted position has been replayed yet
(the first check), where it errs on the side of the primary.

A standby that is behind can still answer "not found" for a receipt issued a moment ago, or the
old status of one reversed since: callers ask the primary again whenever the replica's answer is
not a plain "found, valid" (``receipts/node/lookups.py``), so a lagging replica can make an
answer slower, never wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from receipts.ledger.database import Database

__all__ = ["ReplicaHealth", "ReplicaRouter", "lsn_value"]

log = logging.getLogger("receipts.node.replica")

# Each side's WAL position, and the hash of its ledger's first event (chained from the genesis,
# over its time and payload): which ledger a database holds. A hot standby of the primary's
# cluster, read with the same database and search_path, holds the same one.
_PRIMARY_SQL = text("SELECT pg_current_wal_lsn()::text, (SELECT hash FROM events WHERE seq = 1)")
_REPLICA_SQL = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()),"
    " (SELECT hash FROM events WHERE seq = 1), last.seq, last.hash"
    " FROM (SELECT 1) AS here"
    " LEFT JOIN LATERAL (SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1) AS last ON true"
)
# The primary's event at the replica's last one: each event's hash chains its predecessor's, so
# one equal hash means the same history up to there.
_PRIMARY_EVENT_SQL = text("SELECT hash FROM events WHERE seq = :seq")

_SAMPLES_KEPT = 4096
"""Noted primary positions kept (one a check while the primary writes, one while it is idle):
at the shortest check interval, 0.1 s, they reach ~7 minutes back, past any sensible
``max_lag_seconds``; a standby further behind than the oldest is judged by its last commit."""


def lsn_value(lsn: str) -> int:
    """A PostgreSQL WAL position ``X/Y`` (hex) as one integer, so two can be compared."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True)
class ReplicaHealth:
    """What one check found."""

    usable: bool
    """Reads may go to the replica."""
    reason: str
    """Why not, or ``caught up`` / ``behind by N s``."""


class ReplicaRouter:
    """Chooses the database the public reads use: the replica while it is healthy."""

    def __init__(
        self,
        primary: Database,
        replica: Database | None,
        *,
        max_lag_seconds: float = 5.0,
        check_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._health = ReplicaHealth(False, "not checked yet")
        self._positions = _PrimaryPositions()

    def reader(self) -> Database:
        """The replica when it is healthy (checked at most every ``check_seconds``), else the
        primary."""
        if self.replica is None:
            return self.primary
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self.check_seconds:
            with self._lock:
                if self._checked_at is None or now - self._checked_at >= self.check_seconds:
                    self._update(self.check())
                    self._checked_at = now
        return self.replica if self._health.usable else self.primary

    @property
    def health(self) -> ReplicaHealth:
        """The last check's finding."""
        return self._health

    def check(self) -> ReplicaHealth:
        """Ask the primary and the replica where their WAL stands, and which ledger each holds."""
        if self.replica is None:
            return ReplicaHealth(False, "no replica configured")
        # The clock is read before the primary's position: every commit made before ``asked``
        # ends at or before that position.
        asked = self._clock()
        try:
            with self.primary.engine.connect() as connection:
                primary_lsn, primary_first = connection.execute(_PRIMARY_SQL).one()
        except SQLAlchemyError as exc:
            # The primary itself is failing: nothing to compare with; the writes will say so.
            return ReplicaHealth(False, f"primary unreachable ({type(exc).__name__})")
        if primary_lsn is not None:
            self._positions.note(asked, lsn_value(primary_lsn))
        try:
            with self.replica.engine.connect() as connection:
                row = connection.execute(_REPLICA_SQL).one()
        except SQLAlchemyError as exc:
            return ReplicaHealth(False, f"replica unreachable ({type(exc).__name__})")
        in_recovery, replay_lsn, replay_age, replica_first, last_seq, last_hash = row
        if not in_recovery:
            return ReplicaHealth(False, "replica is not in recovery (promoted?)")
        if replica_first is not None and replica_first != primary_first:
            # Another ledger (another database or schema, another cluster's standby): its
            # answers would be about other receipts, however well it keeps up. (None: it has
            # not replayed this ledger's first event yet, which its WAL position tells.)
            return ReplicaHealth(False, "replica holds another ledger (its first event differs)")
        if last_seq is not None:
            departed = self._departure(int(last_seq), str(last_hash))
            if departed is not None:
                return ReplicaHealth(False, departed)
        if replay_lsn is None or primary_lsn is None:
            return ReplicaHealth(False, "replica has replayed nothing yet")
        replayed = lsn_value(replay_lsn)
        if replayed >= lsn_value(primary_lsn):
            return ReplicaHealth(True, "caught up")
        since = self._positions.replayed_since(replayed)
        if since is not None:
            behind = max(0.0, self._clock() - since)
        else:
            behind = float(replay_age) if replay_age is not None else float("inf")
        if behind <= self.max_lag_seconds:
            return ReplicaHealth(True, f"behind by {behind:.1f} s")
        return ReplicaHealth(False, f"replica lags by {behind:.1f} s")

    def _departure(self, seq: int, replica_hash: str) -> str | None:
        """Why the replica's history is not the primary's up to its last event ``seq``, if not.

        The same ledger can still have two histories: a standby left following the old primary
        after a failover (or a split brain) holds the transactions the new primary lost, or
        misses the ones it made since, while its WAL position, in the other primary's
        numbering, can look caught up. Asked after the replica: an event the replica has
        replayed was committed on the primary before, so the primary shows it now. (A
        synchronous standby can show a commit a moment before its primary does; then this
        check alone sends reads to the primary, and the next one takes the replica back.)"""
        try:
            with self.primary.engine.connect() as connection:
                primary_hash = connection.execute(_PRIMARY_EVENT_SQL, {"seq": seq}).scalar()
        except SQLAlchemyError as exc:
            return f"primary unreachable ({type(exc).__name__})"
        if primary_hash is None:
            return f"replica holds event {seq}, which the primary does not (another history)"
        if primary_hash != replica_hash:
            return f"replica's event {seq} is not the primary's (another history)"
        return None

    def _update(self, health: ReplicaHealth) -> None:
        if health.usable != self._health.usable or self._checked_at is None:
            if health.usable:
                log.info("public reads from the replica (%s)", health.reason)
            else:
                log.warning("public reads from the primary: %s", health.reason)
        self._health = health


class _PrimaryPositions:
    """When the primary's WAL stood where, as the checks found it (oldest first)."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, int]] = deque(maxlen=_SAMPLES_KEPT)

    def note(self, at: float, lsn: int) -> None:
        """The primary's WAL ended at ``lsn`` at time ``at``."""
        if self._seen and lsn < self._seen[-1][1]:
            # WAL never moves back on one primary: this is another one (a restore, a failover),
            # and what was noted of the old one says nothing about the standby's lag now.
            self._seen.clear()
        if self._seen and self._seen[-1][1] == lsn:
            # Still there: a standby at ``lsn`` holds every commit up to the later time.
            self._seen.pop()
        self._seen.append((at, lsn))

    def replayed_since(self, replayed: int) -> float | None:
        """The latest noted time whose position a standby at ``replayed`` has replayed (it holds
        every commit made before then); None when it has replayed none of them."""
        for at, lsn in reversed(self._seen):
            if lsn <= replayed:
                return at
        return None
