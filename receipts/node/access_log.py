"""The node's access log: one JSON line per request, without personal data (docs/security.md,
"The public surface").

A line holds the time, the method, the path **without** its query string (a look-up's query
carries the check code), the status, the duration and a salted hash of the client address
(HMAC-SHA256 under the workspace's secret salt, 16 hex digits: the same client is recognisable
across lines, its address is not). Never a check code, a payer's name or a body. Lines are
written whole with one ``write`` on a file opened for appending, so several workers share a
file without interleaving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["AccessLog", "client_hash"]


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

    def record(
        self, method: str, path: str, status: int, duration: float, client: str, route: str = ""
    ) -> None:
        """Log one finished request. ``path`` must already be without its query string."""
        line = {
            "time": datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "client": client_hash(self.salt, client),
        }
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if self.target == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        if self._fd is None:
            self._fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, data)

    def close(self) -> None:
        """Close the file, if one is open."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
