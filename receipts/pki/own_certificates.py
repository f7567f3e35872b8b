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

Being in the folder is not enough either: an insider can write the folder too. A federation's
heads and anchor are signed with a key its CA certified, so one of its own certificates must
also chain to the trust bundle as of the signing time and name the federation
(:func:`own_signer_problem`); a self-signed certificate counts only in a payer's workspace,
whose ledger key has no CA behind it (there the folder is the only record: docs/security.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from receipts.errors import WorkspaceError
from receipts.support.atomic import write_atomic
from receipts.workspace import Workspace, WorkspaceKind
from signing.certificate_profile import org_code_of
from signing.certificates import certificates_from_pem
from signing.errors import SigningError
from signing.trust import ChainValidator

__all__ = ["OwnCertificate", "own_certificates", "own_signer_problem", "record_own_certificate"]

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

    payer = workspace.config.kind == WorkspaceKind.PAYER

    def add(cert: x509.Certificate, since: datetime | None) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        self_signed = _self_signed(cert)
        if self_signed and not payer:
            # Anyone can make one naming the federation: only a payer has a ledger key without
            # a CA (an insider's self-made certificate dropped in the folder signed heads and
            # the anchor that the audit then trusted).
            return
        if der not in found:
            start = since or cert.not_valid_before_utc
            found[der] = OwnCertificate(cert, start, self_signed)

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


def _self_signed(cert: x509.Certificate) -> bool:
    """Signed by its own key. A name alone does not tell: a CA's signing certificate may carry
    the CA's own name (the tier PKI's province and national ones do), and was then taken for a
    payer's ledger key, trusted without its chain."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def own_signer_problem(
    cert: x509.Certificate,
    own: tuple[OwnCertificate, ...],
    org_code: str,
    validator: ChainValidator | None,
    at: datetime,
) -> str | None:
    """Why ``cert`` may not sign ``org_code``'s heads or anchor at ``at``, or None: it must be
    one of the workspace's ``own`` certificates and, unless it is a payer's self-signed ledger
    certificate, chain to ``validator``'s trust as of ``at`` and name ``org_code``."""
    mine = next((candidate for candidate in own if candidate.certificate == cert), None)
    if mine is None:
        return "its certificate is not one of this workspace's own signing certificates"
    if mine.self_signed:
        return None  # a payer's ledger key: trusted as recorded, no CA behind it
    if validator is None:
        return "this workspace has no trust bundle to check its certificate against"
    result = validator.validate(cert, at=at)
    if not result.ok:
        return f"its certificate was not valid then ({result.findings[0].message})"
    try:
        org = org_code_of(cert)
    except SigningError as exc:
        return f"its certificate names no organisation ({exc})"
    if org != org_code:
        return f"its certificate is {org}'s, not {org_code}'s"
    return None


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
