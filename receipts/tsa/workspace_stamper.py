"""Which authority stamps a workspace's receipts: ``[tsa] url`` when set, else the workspace's
own authority (a national or provincial CA that runs one), else none."""

from __future__ import annotations

from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.tsa.authority import has_authority, load_authority
from receipts.tsa.config import tsa_settings
from receipts.tsa.stamping import Stamper, http_stamper, local_stamper

__all__ = ["workspace_stamper"]


def workspace_stamper(creds: Credentials, db: Database) -> Stamper | None:
    """The stamper of this workspace's receipts, or None when it has no authority."""
    settings = tsa_settings(creds.workspace)
    if settings.url is not None:
        return http_stamper(settings.url, settings.timeout)
    if has_authority(creds):
        return local_stamper(load_authority(creds, db))
    return None
