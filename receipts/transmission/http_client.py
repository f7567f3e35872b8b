"""The client side of the federation nodes' HTTP APIs (docs/formats.md, "The tier API"): signed
tier requests with retries, and the public look-up a payer's booking asks.

Every tier call is idempotent at the node (a package imported twice changes nothing and is
answered with the same acknowledgement), so a call that failed in the network is simply sent
again, signed again with a new nonce and time, with exponential backoff, until it is answered or
the call's time is used up (:class:`Retry`); then :class:`NetworkFailure` (exit 3). What the node
refuses is not retried (:class:`TierRequestRefused`). Responses that matter are signed documents
(acknowledgements, summaries), verified by the caller as files are.

A package file is pushed without being held in memory: read once to hash it (the signature covers
the body's SHA-256), then streamed from disk by each attempt.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from receipts.errors import EnvironmentFailure, InvalidInput, ReceiptError
from receipts.pki.signer import ReceiptSigner
from receipts.transmission.request_signing import sign_request_digest

__all__ = [
    "PACKAGES_PATH",
    "SUMMARY_PATH",
    "NetworkFailure",
    "Retry",
    "TierClient",
    "TierRequestRefused",
    "lookup_status",
    "validate_node_url",
]

PACKAGES_PATH = "/api/v1/tier/packages"
"""Where a child pushes a transmission package (the answer: the signed acknowledgement)."""
SUMMARY_PATH = "/api/v1/tier/summary"
"""Where either round of reconciliation asks for the node's signed summary."""
LOOKUP_PATH = "/api/v1/lookup"
"""The public look-up (no authentication)."""
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_FILE_CHUNK = 1024 * 1024
"""How much of a package file is read at a time, to hash it and to send it."""


class NetworkFailure(EnvironmentFailure):
    """The node could not be reached, or did not answer, within the call's time (exit 3)."""


class TierRequestRefused(ReceiptError):
    """The node refused the request: exit 1 when it refused the content (a package that does
    not pass its checks), 2 when it refused the request itself (not authenticated, not
    registered, too large)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the node refused the request ({status}): {detail}")
        self.status = status
        self.exit_code = 1 if status == 422 else 2


@dataclass(frozen=True)
class Retry:
    """How long a call keeps trying: exponential backoff from ``first_delay`` up to
    ``max_delay`` seconds between attempts, and no attempt after ``total`` seconds."""

    total: float = 120.0
    """Seconds from the first attempt after which no new attempt starts."""
    first_delay: float = 0.5
    """The wait after the first failure; it doubles after each further one."""
    max_delay: float = 15.0
    """The longest wait between two attempts."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    """How to wait (tests pass a recorder)."""
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    """Seconds, for the deadline."""

    def delays(self) -> Callable[[int], float]:
        """The wait before attempt ``n + 1`` (with a little jitter against lock-step clients)."""
        return lambda n: min(self.max_delay, self.first_delay * 2**n) * random.uniform(0.8, 1.0)  # noqa: S311


def validate_node_url(url: str, what: str = "node URL") -> str:
    """An ``http(s)://host[:port][/prefix]`` URL without query or fragment, without its final
    slash; :class:`InvalidInput` otherwise."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} {url!r} must be an http:// or https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{what} {url!r} may not carry a query, fragment or credentials")
    return url.strip().rstrip("/")


class TierClient:
    """Signed calls from this federation to one node (its upstream's, usually)."""

    def __init__(
        self,
        base_url: str,
        signer: ReceiptSigner,
        recipient: str,
        *,
        retry: Retry | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = validate_node_url(base_url)
        self.signer, self.recipient = signer, recipient
        self.retry = retry or Retry()
        self._timeout = max(5.0, min(timeout, self.retry.total))
        self._client = httpx.Client(timeout=self._timeout, transport=transport)
        self._start = self.retry.clock()
        """Every call of this client shares one deadline: a sync's time is bounded as a whole."""
        self.attempts = 0
        """Attempts made by this client, for the report."""

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def push(self, package: bytes | Path) -> bytes:
        """Push a transmission package (its bytes, or a file streamed from disk); the node's
        signed acknowledgement."""
        return self.post(PACKAGES_PATH, package, (), "application/zip")

    def summary(self, issuers: Sequence[str], request: bytes | None = None) -> bytes:
        """The node's signed summary of ``issuers`` (first round), or its answer to
        ``request`` (second round)."""
        params = [("issuer", code) for code in issuers]
        return self.post(SUMMARY_PATH, request or b"", params, "application/xml")

    def post(
        self,
        path: str,
        body: bytes | Path,
        params: Sequence[tuple[str, str]],
        content_type: str,
    ) -> bytes:
        """POST a signed request, retrying what the network lost; the response's body. A
        ``Path`` body is hashed in a first pass and streamed from the file by every attempt."""
        start, delay = self._start, self.retry.delays()
        target = urlsplit(self.base_url).path + path
        query = urlencode(list(params))
        digest, size = _digest(body)
        last = ""
        for n in range(1000):
            self.attempts += 1
            headers = dict(
                sign_request_digest(self.signer, self.recipient, "POST", target, query, digest)
            )
            headers["Content-Type"] = content_type
            # A file's length is sent, not chunked: the node refuses a body too large for it
            # (413) from its Content-Length, before a byte of it is sent.
            headers["Content-Length"] = str(size)
            content = body if isinstance(body, bytes) else _chunks(body)
            # The answer comes after the node has imported the package (minutes for a large
            # one): it is waited for as long as the call's time lasts, not resent every minute.
            left = self.retry.total - (self.retry.clock() - start)
            try:
                response = self._client.post(
                    self.base_url + path + (f"?{query}" if query else ""),
                    content=content,
                    headers=headers,
                    timeout=httpx.Timeout(self._timeout, read=max(self._timeout, left)),
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response.content
                if response.status_code >= 500 and response.status_code not in _RETRY_STATUSES:
                    raise NetworkFailure(
                        f"{self.base_url} failed ({response.status_code}): {_detail(response)}"
                    )
                if response.status_code not in _RETRY_STATUSES:
                    raise TierRequestRefused(response.status_code, _detail(response))
                last = f"HTTP {response.status_code}: {_detail(response)}"
            wait = delay(n)
            if self.retry.clock() + wait - start > self.retry.total:
                break
            self.retry.sleep(wait)
        raise NetworkFailure(
            f"{self.base_url} did not answer after {n + 1} attempt(s) in "
            f"{self.retry.clock() - start:.0f} s (last: {last}); nothing was lost: run again"
        )


def _digest(body: bytes | Path) -> tuple[str, int]:
    """The SHA-256 (hex) and length of a body, a file read a chunk at a time."""
    if isinstance(body, bytes):
        return hashlib.sha256(body).hexdigest(), len(body)
    digest, size = hashlib.sha256(), 0
    with body.open("rb") as handle:
        while chunk := handle.read(_FILE_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time (a file changed since it was hashed is refused by
    the node: 401, its body is not the one signed)."""
    with path.open("rb") as handle:
        while chunk := handle.read(_FILE_CHUNK):
            yield chunk


def _detail(response: httpx.Response) -> str:
    try:
        data: Any = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = data.get("detail") if isinstance(data, dict) else None
    return detail[:500] if isinstance(detail, str) else str(data)[:200]


def lookup_status(
    base_url: str,
    code: str,
    number: int,
    check: str,
    amount: Decimal,
    *,
    timeout: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any] | None:
    """The issuer node's public answer about a receipt (``found``, ``status``,
    ``reversed_by``…), or None when the node cannot be reached or answers nonsense: a payer
    then books offline."""
    params = {"code": code, "number": str(number), "check": check, "amount": f"{amount:.2f}"}
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.get(validate_node_url(base_url) + LOOKUP_PATH, params=params)
        data = response.json() if response.status_code in (200, 404) else None
    except (httpx.HTTPError, ValueError, InvalidInput):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("found"), bool):
        return None
    if data["found"] and data.get("status") not in ("issued", "reversed"):
        return None
    return data
