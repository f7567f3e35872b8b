"""The node's access log: one JSON line per request, without personal data (docs/security.md,
"The public surface").

A line holds the time, the method, the path **without** its query string (a look-up's query
carries the check code), the status, the duration and a salted hash of the client address
(HMAC-SHA256 under the workspace's secret salt, 16 hex digits: the same client is recognisable
across lines, its address is not). Never a check code, a payer's name or a body. Lines are
written whole with one ``write`` on a file opened for appending, so several workers share a
file without interleaving.

Lines are written in batches (at most :data:`BATCH_LINES` lines or :data:`BATCH_SECONDS` old),
not one ``write`` per request: a system call per request cost a third of a look-up's time on
this machine (``bench/serve.py``). The node flushes on a graceful stop; a worker killed outright
loses at most the last second of its lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["BATCH_LINES", "BATCH_SECONDS", "AccessLog", "client_hash"]

BATCH_LINES = 256
"""Lines kept before they are written."""
BATCH_SECONDS = 1.0
"""How old the oldest kept line may be before they are written."""
_HASHES_KEPT = 10_000
"""Client hashes kept (all forgotten at once when full)."""
_string = json.JSONEncoder(ensure_ascii=False).encode
"""A string as JSON, as ``json.dumps(..., ensure_ascii=False)`` writes it."""


def client_hash(salt: bytes, address: str) -> str:
    """The pseudonym of a client address in the log."""
    return hmac.new(salt, address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


class AccessLog:
    """Writes access lines to standard output (``-``) or appends them to a file."""

    def __init__(self, target: str, salt: bytes, clock: Callable[[], float]) -> None:
        self.target = target
        self.salt = salt
        self.clock = clock
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._hashes: dict[str, str] = {}
        self._since = 0.0

    def record(
        self, method: str, path: str, status: int, duration: float, client: str, route: str = ""
    ) -> None:
        """Log one finished request. ``path`` must already be without its query string.

        The line is what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` makes of
        the fields, put together by hand: the general encoder and a fresh HMAC per request
        were a tenth of a look-up's CPU (bench/serve.py); a client's hash is kept per address
        (the salt never changes while the node runs)."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        data = (
            f'{{"time":"{stamp}","method":{_string(method)},"path":{_string(path)},'
            f'"status":{int(status)},"duration_ms":{round(duration * 1000, 2)!r},'
            f'"client":"{self._hash(client)}"}}\n'
        ).encode()
        if self.target == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        now = time.monotonic()
        if not self._pending:
            self._since = now
        self._pending.append(data)
        if len(self._pending) >= BATCH_LINES or now - self._since >= BATCH_SECONDS:
            self.flush()

    def _hash(self, client: str) -> str:
        known = self._hashes.get(client)
        if known is None:
            if len(self._hashes) >= _HASHES_KEPT:
                self._hashes.clear()
            known = self._hashes[client] = client_hash(self.salt, client)
        return known

    def flush(self) -> None:
        """Write the kept lines (one ``write``; whole lines only). Kept lines are dropped when
        the file cannot be written: the error goes to the caller, the next batch starts anew."""
        if not self._pending:
            return
        data, self._pending = b"".join(self._pending), []
        if self._fd is None:
            self._fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, data)

    def close(self) -> None:
        """Write what is kept and close the file, if one is open."""
        try:
            self.flush()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
