"""The rate limit as the routes apply it: a request's cost is taken before any work, and a
look-up that matched nothing pays the rest of the failed cost afterwards
(:mod:`receipts.node.ratelimit`, docs/security.md)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from receipts.node.state import NodeState

__all__ = ["RateLimited", "admit", "charge_failed_lookup", "client_of", "node_of"]


class RateLimited(HTTPException):
    """429 with ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"too many requests from this address; retry after {retry_after} s",
            {"retry-after": str(retry_after)},
        )
        self.retry_after = retry_after


def node_of(request: Request) -> NodeState:
    """The worker's :class:`NodeState`."""
    state: NodeState = request.app.state.node
    return state


def client_of(request: Request) -> str:
    """The client address the middleware worked out (behind trusted proxies, the forwarded one)."""
    client = getattr(request.state, "client", None)
    return client if isinstance(client, str) else "unknown"


def admit(request: Request, cost: int) -> None:
    """Take ``cost`` tokens from the client's bucket, or refuse with 429."""
    admission = node_of(request).limiter.take(client_of(request), cost)
    if not admission.allowed:
        raise RateLimited(admission.retry_after)


def charge_failed_lookup(request: Request) -> None:
    """A look-up matched nothing: take what it costs beyond the one token already taken."""
    state = node_of(request)
    state.limiter.charge(client_of(request), state.config.rate.failed_lookup_cost - 1)
