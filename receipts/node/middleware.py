"""What wraps every request of the node (docs/security.md, "The public surface"): the body
limit enforced while the body streams in, the security headers on every response (errors
included), the access log line, and the last line of defence that turns an unexpected error
into a 500 without a stack trace.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: it sees the raw
``receive`` (so a body is counted as it arrives, whatever ``Content-Length`` claims) and the raw
``send`` (so headers are set on every response, even one sent by an error handler).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receipts.node.clients import client_address
from receipts.node.problems import error_response
from receipts.node.state import NodeState

__all__ = ["SECURITY_HEADERS", "TIER_PREFIX", "BodyTooLarge", "Endpoint", "NodeMiddleware"]

logger = logging.getLogger("receipts.node")

TIER_PREFIX = "/api/v1/tier/"
"""The tier API's routes: their bodies (transmission packages) may reach ``max_push_bytes``."""
_UPLOAD_PATHS = ("/verify", "/api/v1/verify")
"""Routes that take an uploaded receipt: ``max_upload_bytes``."""
_SMALL_BODY = 16 * 1024
"""Every other route: a form of a few fields, or nothing."""

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
"""Set on every response; ``Cache-Control: no-store`` too unless a route says otherwise (only
the stylesheet may be cached)."""


class BodyTooLarge(HTTPException):
    """More body bytes arrived than the route accepts. An ``HTTPException``, so FastAPI hands
    it to the error handlers (413) rather than calling it a malformed body (400)."""

    def __init__(self, limit: int) -> None:
        detail = f"the request body is larger than {limit:,} bytes"
        super().__init__(413, detail, {"connection": "close"})


Endpoint = Callable[[NodeState, Scope, Receive, Send], Awaitable[None]]
"""A route answered in plain ASGI, before FastAPI (``api.lookup_endpoint``)."""


class NodeMiddleware:
    """Body limits, security headers, access log and the 500 of last resort; and the routes
    in ``endpoints`` (by method and path) answered directly, inside all of that."""

    def __init__(
        self,
        app: ASGIApp,
        state: NodeState,
        endpoints: Mapping[tuple[str, str], Endpoint] | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.endpoints = dict(endpoints or {})

    def body_limit(self, path: str) -> int:
        """How many body bytes ``path`` accepts."""
        if path.startswith(TIER_PREFIX):
            return self.state.config.max_push_bytes
        if path in _UPLOAD_PATHS:
            return self.state.config.max_upload_bytes
        return _SMALL_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        client = client_address(scope, self.state.config.trusted_proxies)
        scope.setdefault("state", {})["client"] = client
        status = [500]
        responded, finished = [False], [False]

        async def send_wrapped(message: Message) -> None:
            # One response per request: whatever comes after it (an app answering a request
            # this middleware already refused) is dropped.
            if finished[0]:
                return
            if message["type"] == "http.response.start":
                if responded[0]:
                    return
                responded[0] = True
                status[0] = message["status"]
                message["headers"] = _secured(message.get("headers", []))
            elif message["type"] == "http.response.body":
                if not responded[0]:
                    return
                finished[0] = not message.get("more_body", False)
            await send(message)

        limit = self.body_limit(path)
        try:
            declared = _content_length(scope)
            endpoint = self.endpoints.get((scope["method"], path))
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._refuse(scope, receive, send_wrapped, path, limit)
            elif endpoint is not None:
                await endpoint(self.state, scope, _counting(receive, limit), send_wrapped)
            else:
                await self.app(scope, _counting(receive, limit), send_wrapped)
        except BodyTooLarge:
            if not responded[0]:
                await self._refuse(scope, receive, send_wrapped, path, limit)
        except Exception:
            logger.exception("unexpected error serving %s %s", scope["method"], path)
            if not responded[0]:
                response = error_response(path, 500, "the node failed to answer; try later")
                await response(scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - started
            try:
                self.state.access_log.record(scope["method"], path, status[0], elapsed, client)
            except OSError:  # a full disk must not turn answers into errors
                logger.exception("cannot write the access log")

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        limit: int,
    ) -> None:
        detail = f"the request body is larger than {limit:,} bytes"
        message = f"提交的内容太大：最多 {limit:,} 字节。"
        response = error_response(path, 413, detail, {"connection": "close"}, message)
        await response(scope, receive, send)


def _content_length(scope: Scope) -> str | None:
    """The request's ``Content-Length``, if any. A scan of the raw headers: ``Headers.get``
    raises and catches a ``KeyError`` for every request without a body (most of them), which
    showed up in profiles of the look-up (bench/serve.py)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return str(value.decode("latin-1"))
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises once more than ``limit`` body bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


def _secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security headers set and no ``server`` banner."""
    names = {name.lower() for name, _ in headers}
    kept = [(n, v) for n, v in headers if n.lower() != b"server"]
    for name, value in SECURITY_HEADERS.items():
        if name.encode() not in names:
            kept.append((name.encode(), value.encode()))
    if b"cache-control" not in names:
        kept.append((b"cache-control", b"no-store"))
    return kept
