"""Token buckets per client address against enumeration of the public look-up
(docs/security.md, "The public surface").

Each client address (an IPv6 address's /64) has a bucket of ``burst`` tokens refilled at
``per_minute``; a request takes its cost before any work is done, and a look-up that matched
nothing takes the rest of the failed-look-up cost afterwards, into debt if need be. Guessing
check codes fails almost every time, so a guesser pays the failed cost on nearly every try: with
the defaults (30 a minute, a failed look-up costing 5) one address tries 6 codes a minute, and
the 36^6 ≈ 2.2e9 codes of one receipt number take about 700 years. The buckets live in the
worker process: with N workers a client may get up to N times the rate (docs/operations.md says
why that is acceptable, and how a reverse proxy can limit in front of them).
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from receipts.node.config import RateLimit

__all__ = ["Admission", "RateLimiter", "bucket_of"]

_MAX_CLIENTS = 100_000
"""Buckets kept at most; the least recently seen go first (a full bucket forgets nothing)."""


@dataclass(frozen=True)
class Admission:
    """Whether a request may go ahead."""

    allowed: bool
    """True: the tokens were taken."""
    retry_after: int = 0
    """When refused: whole seconds until the bucket holds the cost again."""


@lru_cache(maxsize=4096)
def bucket_of(client: str) -> str:
    """Whose bucket a client address draws on: an IPv6 address's /64 (one subscriber's network
    holds 2^64 addresses, each of which would otherwise get a fresh bucket), an IPv4 address
    (also when written IPv4-mapped) as it is; anything else as given."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return client


class RateLimiter:
    """Token buckets keyed by client address, safe across the threads of one process."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, cost: int) -> Admission:
        """Take ``cost`` tokens from ``client``'s bucket, or say how long to wait."""
        client = bucket_of(client)
        with self._lock:
            tokens = self._refill(client)
            if tokens >= cost:
                self._store(client, tokens - cost)
                return Admission(True)
            self._store(client, tokens)
            rate = self.limit.per_minute / 60.0
            return Admission(False, max(1, math.ceil((cost - tokens) / rate)))

    def charge(self, client: str, cost: int) -> None:
        """Take ``cost`` more tokens after the fact (a failed look-up), into debt if need be:
        the next request then waits until the refill has paid it. (Stopping at zero let a
        guesser who waits for one token between tries pay one token a try, not the failed
        cost: 30 guesses a minute instead of 6. The debt is bounded by what the requests let in
        while the bucket held tokens can owe.)"""
        if cost <= 0:
            return
        client = bucket_of(client)
        with self._lock:
            self._store(client, self._refill(client) - cost)

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
