"""The signed client a command uses to call the tier above's node (``transmit push``, ``sync``,
``reconcile tiers --with URL``; docs/operations.md, "Push and sync")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from receipts.domain.divisions import upstream_of
from receipts.errors import InvalidInput
from receipts.pki.credentials import Credentials
from receipts.transmission.http_client import Retry, TierClient
from receipts.transmission.node_urls import sync_seconds, upstream_url
from receipts.workspace import Workspace

__all__ = ["tier_client"]


@contextlib.contextmanager
def tier_client(
    ws: Workspace, creds: Credentials, url: str | None, timeout: float | None
) -> Iterator[TierClient]:
    """A signed client to the tier above's node (``url`` or ``[upstream] url``)."""
    recipient = upstream_of(ws.ledger_owner)
    if recipient is None:
        raise InvalidInput("the national federation has no tier above to call")
    client = TierClient(
        upstream_url(ws, url),
        creds.signer,
        recipient,
        retry=Retry(total=sync_seconds(ws, timeout)),
    )
    try:
        yield client
    finally:
        client.close()
