"""The workspace's own head-signing certificates, current and past (``docs/security.md``).

``receipts audit`` accepts a signed chain head (and the signed ledger anchor) only when its
certificate is one of these: a certificate that merely names the organisation is not enough,
anyone can make one. They are kept in the workspace folder, not in the ledger database, so an
insider who can write the database cannot add one:

    certs/own-certificates.json   every signing certificate imported here and every ledger-key
                                  certificate made here, with when it was recorded

The record is appended to by ``pki import-cert`` and ``init --payer``; the current
``certs/signing.pem``, the retired ``certs/signing.pem.*.old`` and ``certs/ledger.pem`` count too,
so a workspace made before the record existed keeps its history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.errors import WorkspaceError
from receipts.support.atomic import write_atomic
from receipts.workspace import Workspace
from signing.certificates import certificates_from_pem

__all__ = ["OwnCertificate", "own_certificates", "record_own_certificate"]

_RECORD = "own-certificates.json"


@dataclass(frozen=True)
class OwnCertificate:
    """A certificate whose key signs (or signed) this workspace's chain heads."""

    certificate: x509.Certificate
    """The certificate."""
    since: datetime
    """When the workspace started signing with it: recorded at import, else its start date."""
    self_signed: bool
    """True for a payer's ledger-key certificate (no CA behind it: it is trusted as recorded)."""


def record_own_certificate(workspace: Workspace, cert: x509.Certificate, now: datetime) -> None:
    """Add ``cert`` to the workspace's record of its own certificates (once), atomically."""
    path = workspace.certs_dir / _RECORD
    entries = _entries(path)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    if any(entry["pem"] == pem for entry in entries):
        return
    recorded = now.astimezone(UTC).replace(microsecond=0).isoformat()
    entries.append({"recorded_at": recorded, "pem": pem})
    body = json.dumps({"certificates": entries}, indent=2) + "\n"
    write_atomic(path, body.encode("ascii"))


def own_certificates(workspace: Workspace) -> tuple[OwnCertificate, ...]:
    """Every certificate this workspace signs or signed its heads with, oldest first."""
    certs_dir = workspace.certs_dir
    found: dict[bytes, OwnCertificate] = {}

    def add(cert: x509.Certificate, since: datetime | None) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der not in found:
            start = since or cert.not_valid_before_utc
            found[der] = OwnCertificate(cert, start, cert.issuer == cert.subject)

    for entry in _entries(certs_dir / _RECORD):
        for cert in certificates_from_pem(entry["pem"].encode("ascii")):
            add(cert, datetime.fromisoformat(entry["recorded_at"]))
    retired = sorted(certs_dir.glob("signing.pem.*.old"))
    leaves = [*retired, certs_dir / "signing.pem", certs_dir / "ledger.pem"]
    for path in leaves:
        if path.is_file():
            certs = certificates_from_pem(path.read_bytes())
            if certs:
                add(certs[0], None)
    return tuple(sorted(found.values(), key=lambda own: own.since))


def _entries(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="ascii"))
        entries = data["certificates"]
        if not all(isinstance(e, dict) and {"recorded_at", "pem"} <= set(e) for e in entries):
            raise ValueError("an entry lacks recorded_at or pem")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path} is unreadable: {exc}") from None
    return [{"recorded_at": str(e["recorded_at"]), "pem": str(e["pem"])} for e in entries]
