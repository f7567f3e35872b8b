"""Asking a remote time-stamp authority over HTTP (RFC 3161 §3.4: POST of an
``application/timestamp-query``, answer ``application/timestamp-reply``)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from signing.timestamps import MAX_TOKEN_BYTES, QUERY_TYPE, REPLY_TYPE, TimeStampError

__all__ = ["http_sender"]


def http_sender(
    url: str, timeout: float, client: httpx.Client | None = None
) -> Callable[[bytes], bytes]:
    """A transport for :func:`signing.timestamps.request_token` that posts to ``url``; through
    ``client`` when given, so that many requests share its connection (a batch stamped at
    issue), else each on a connection of its own."""

    def send(query: bytes) -> bytes:
        try:
            response = (client.post if client is not None else httpx.post)(
                url,
                content=query,
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise TimeStampError(
                f"the time-stamp authority {url} cannot be reached: {exc}"
            ) from None
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code != 200 or kind != REPLY_TYPE:
            raise TimeStampError(
                f"the time-stamp authority {url} answered HTTP {response.status_code} "
                f"({kind or 'no type'})"
            )
        if len(response.content) > MAX_TOKEN_BYTES:
            raise TimeStampError(f"the time-stamp authority {url} answered too much")
        return response.content

    return send
