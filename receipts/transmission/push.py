"""Pushing to the tier above over HTTP (docs/operations.md, "Push and sync"): export what it has
not acknowledged (or take a package file), push it, and record the signed acknowledgement of the
answer exactly as ``receipts transmit ack`` records a file.

Nothing is lost or duplicated by a failure at any byte: the ledger records a package as
acknowledged only from the tier above's signed acknowledgement, the tier above imports a package
at most once (a later package overlapping it adds only what it lacks), and the next push exports
again from the last acknowledged event.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from receipts.ledger.database import Database
from receipts.pki.signer import ReceiptSigner
from receipts.transmission.acknowledgement import AckResult, record_acknowledgement
from receipts.transmission.export import NothingToSend, write_package
from receipts.transmission.http_client import TierClient
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.package import Manifest
from receipts.transmission.package_stream import open_package
from signing.trust import ChainValidator

__all__ = ["PushOutcome", "push_pending"]


@dataclass(frozen=True)
class PushOutcome:
    """What one push did."""

    package: str
    """The package's digest."""
    first_seq: int
    """Its first event."""
    last_seq: int
    """Its last event (the tier above now holds our chain up to it)."""
    receipts: int
    """Receipts it carried."""
    ack: AckResult
    """The recorded acknowledgement."""


def push_pending(
    db: Database,
    signer: ReceiptSigner,
    validator: ChainValidator,
    client: TierClient,
    crls_pem: bytes = b"",
    package: Path | None = None,
    settings: ImportSettings | None = None,
    spool: Path | None = None,
) -> PushOutcome | None:
    """Push the package file ``package`` (streamed from disk, never read whole), or everything
    the tier above has not acknowledged; None when there is nothing to send. ``settings``: the
    limits a package file is opened with (``[transmission]``), as ``transmit import`` would.
    An export is written to a temporary file in ``spool`` (default: the system's temporary
    folder) and streamed from it, never held in memory."""
    if package is None:
        with tempfile.TemporaryDirectory(prefix=".push-", dir=spool) as folder:
            exported = Path(folder) / "package.zip"
            try:
                with open(exported, "wb") as handle:
                    manifest = write_package(handle, db, signer, client.recipient, crls_pem)
            except NothingToSend:
                return None
            answer = client.push(exported)
    else:
        # Its signed manifest, verified, for the report; the receipts stay in the file.
        with open_package(package, validator, str(package), settings or ImportSettings()) as p:
            manifest = p.manifest
        answer = client.push(package)
    ack = record_acknowledgement(
        db, answer, validator, signer, f"the acknowledgement from {client.base_url}"
    )
    return PushOutcome(
        manifest.digest, manifest.first_seq, manifest.last_seq, _count(manifest), ack
    )


def _count(manifest: Manifest) -> int:
    """The receipts a package carries: the sum of its signed per-issuer counts."""
    return sum(count for count, _ in manifest.issuers.values())
