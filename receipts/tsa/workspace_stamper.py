"""Which authority stamps a workspace's receipts: ``[tsa] url`` when set, else the workspace's
own authority (a national or provincial CA that runs one), else none; and what an import of a
package takes from ``[tsa]``."""

from __future__ import annotations

from typing import Any

from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.tsa.authority import has_authority, load_authority, shared_authority
from receipts.tsa.config import tsa_settings
from receipts.tsa.stamping import Stamper, http_stamper, local_stamper

__all__ = ["import_options", "workspace_stamper"]


def workspace_stamper(creds: Credentials, db: Database) -> Stamper | None:
    """The stamper of this workspace's receipts, or None when it has no authority."""
    settings = tsa_settings(creds.workspace)
    if settings.url is not None:
        return http_stamper(settings.url, settings.timeout)
    if has_authority(creds):
        return local_stamper(load_authority(creds, db))
    return None


def import_options(creds: Credentials, db: Database) -> dict[str, Any]:
    """What an import (``transmit import``, a push to the node) passes to
    :func:`receipts.transmission.receive.import_package`: the time-stamp tolerance of ``[tsa]``,
    and this workspace's own authority (a CA tier that runs one), which stamps the receipts that
    arrive without a time-stamp."""
    options: dict[str, Any] = {"tolerance": tsa_settings(creds.workspace).tolerance}
    if has_authority(creds):
        options["stamper"] = local_stamper(shared_authority(creds, db))
    return options
