"""Who the client is, for the rate limiter and the access log's hash (docs/operations.md,
"Behind a reverse proxy")."""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.types import Scope

__all__ = ["client_address"]


def client_address(scope: Scope, trusted_proxies: int) -> str:
    """The client's address: the TCP peer, or with ``trusted_proxies`` = N reverse proxies in
    front, the address the outermost of them appended to ``X-Forwarded-For`` (the N-th from
    the right; anything left of it was written by the client and proves nothing). A header
    shorter than N entries, or an entry that is not an IP address, falls back to the peer."""
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if trusted_proxies <= 0:
        return address
    forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return address
    candidate = hops[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return address
