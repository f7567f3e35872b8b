"""Token buckets per client address against enumeration of the public look-up
(docs/security.md, "The public surface").

Each client address has a bucket of ``burst`` tokens refilled at ``per_minute``; a request takes
its cost before any work is done, and a look-up that matched nothing takes the rest of the
failed-look-up cost afterwards. Guessing check codes fails almost every time, so a guesser pays
the failed cost on nearly every try: with the defaults (30 a minute, a failed look-up costing 5)
one address tries 6 codes a minute, and the 36^6 ≈ 2.2e9 codes of one receipt number take about
700 years. The buckets live in the worker process: with N workers a client may get up to N
times the rate (docs/operations.md says why that is acceptable, and how a reverse proxy can
limit in front of them).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from receipts.node.config import RateLimit

__all__ = ["Admission", "RateLimiter"]

_MAX_CLIENTS = 100_000
"""Buckets kept at most; the least recently seen go first (a full bucket forgets nothing)."""


@dataclass(frozen=True)
class Admission:
    """Whether a request may go ahead."""

    allowed: bool
    """True: the tokens were taken."""
    retry_after: int = 0
    """When refused: whole seconds until the bucket holds the cost again."""


class RateLimiter:
    """Token buckets keyed by client address, safe across the threads of one process."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, cost: int) -> Admission:
        """Take ``cost`` tokens from ``client``'s bucket, or say how long to wait."""
        with self._lock:
            tokens = self._refill(client)
            if tokens >= cost:
                self._store(client, tokens - cost)
                return Admission(True)
            self._store(client, tokens)
            rate = self.limit.per_minute / 60.0
            return Admission(False, max(1, math.ceil((cost - tokens) / rate)))

    def charge(self, client: str, cost: int) -> None:
        """Take ``cost`` more tokens after the fact (a failed look-up), down to zero at most:
        the next request then waits for the refill."""
        if cost <= 0:
            return
        with self._lock:
            self._store(client, max(0.0, self._refill(client) - cost))

    def _refill(self, client: str) -> float:
        now = self.clock()
        tokens, stamp = self._buckets.get(client, (float(self.limit.burst), now))
        gained = max(0.0, now - stamp) * self.limit.per_minute / 60.0
        return min(float(self.limit.burst), tokens + gained)

    def _store(self, client: str, tokens: float) -> None:
        self._buckets[client] = (tokens, self.clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)
