"""A CA workspace's side of the PKI (docs/operations.md): the root CA, issuing, revoking,
publishing CRLs.

The national root and a provincial CA keep their books under ``ca/``::

    ca/issued/<serial-hex>.pem   every certificate this CA issued, one PEM file each
    ca/revocations.json          the revocations it recorded: serial, org, times, reason
    ca/crl.pem                   the last CRL it published

The requester's side (key requests, importing certificates, trust bundles, status) is
:mod:`receipts.pki.requester`, which builds on the helpers here. No click in either module:
the ``receipts pki`` commands (``receipts/commands/pki_*``) parse and print. Passphrases come
from a callable ``passphrase(new)``, called only once every cheap check has passed; ``new`` is
true when the key is about to be created (confirm it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from receipts.domain.divisions import NATIONAL, upstream_of, validate_division_code
from receipts.errors import InvalidInput, WorkspaceError
from receipts.pki.credentials import Credentials
from receipts.pki.keyfile import save_key
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_PEM_BYTES, read_bounded
from signing.certificate_profile import org_code_of, role_of
from signing.certificates import (
    CertificateRole,
    certificates_to_pem,
    create_root_ca,
    csr_from_pem,
    issue_certificate,
    load_certificates,
)
from signing.crl import Revocation, RevocationReason, build_crl, crls_from_pem, crls_to_pem
from signing.errors import SigningError
from signing.keys import KeyAlgorithm, check_new_passphrase, generate_key

__all__ = [
    "CaRegistry",
    "Issued",
    "Passphrase",
    "ca_identity",
    "format_utc",
    "init_root",
    "issue_from_request",
    "parse_serial",
    "publish_crl",
    "read_request",
    "revoke",
]

#: ``passphrase(new)``: the passphrase of the key concerned; ``new`` when creating that key.
Passphrase = Callable[[bool], str]


class CaRegistry:
    """The books of a CA workspace: the certificates it issued, its revocations, its last CRL."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "ca"

    def _private(self, path: Path) -> Path:
        """``path`` inside the CA's folder, which is made first, mode 0700 whatever the umask:
        the CA's books are the workspace's, not other users' (docs/security.md)."""
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
        return path

    def _issued_path(self, serial: int) -> Path:
        return self.folder / "issued" / f"{serial:x}.pem"

    def record_issued(self, cert: x509.Certificate) -> Path:
        """Keep a copy of a certificate this CA issued, named by its serial."""
        path = self._issued_path(cert.serial_number)
        write_atomic(self._private(path), certificates_to_pem([cert]))
        return path

    def issued(self, serial: int) -> x509.Certificate | None:
        """The certificate with ``serial`` if this CA issued it."""
        path = self._issued_path(serial)
        return load_certificates(path)[0] if path.is_file() else None

    def issued_count(self) -> int:
        """How many certificates this CA issued."""
        folder = self.folder / "issued"
        return len(list(folder.glob("*.pem"))) if folder.is_dir() else 0

    def _entries(self) -> list[dict[str, Any]]:
        path = self.folder / "revocations.json"
        if not path.is_file():
            return []
        try:
            entries = json.loads(path.read_text("utf-8"))["revocations"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"{path} is damaged: {exc}") from None
        return list(entries)

    def revocations(self) -> list[Revocation]:
        """Every revocation recorded, oldest first."""
        return [
            Revocation(
                serial=int(e["serial"], 16),
                revoked_at=datetime.fromisoformat(e["revoked_at"]),
                reason=RevocationReason(e["reason"]),
                invalid_since=(
                    datetime.fromisoformat(e["invalid_since"]) if e.get("invalid_since") else None
                ),
            )
            for e in self._entries()
        ]

    def add_revocation(self, record: Revocation, org: str) -> None:
        """Append ``record`` (for a certificate of ``org``) to ``ca/revocations.json``."""
        entry = {
            "serial": f"{record.serial:x}",
            "org": org,
            "revoked_at": record.revoked_at.isoformat(),
            "reason": record.reason.value,
            "invalid_since": record.invalid_since.isoformat() if record.invalid_since else None,
        }
        doc = {"revocations": [*self._entries(), entry]}
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        write_atomic(self._private(self.folder / "revocations.json"), text.encode("utf-8"))

    def last_crl(self) -> x509.CertificateRevocationList | None:
        """The CRL this CA published last, if any."""
        path = self.folder / "crl.pem"
        crls = crls_from_pem(path.read_bytes()) if path.is_file() else []
        return crls[0] if crls else None

    def next_crl_number(self, this_update: datetime) -> int:
        """A CRLNumber above the last one: the Unix time, or one more than the last."""
        number = int(this_update.timestamp())
        last = self.last_crl()
        if last is not None:
            ext = last.extensions.get_extension_for_class(x509.CRLNumber).value
            number = max(number, ext.crl_number + 1)
        return number

    def record_crl(self, crl: x509.CertificateRevocationList) -> None:
        """Keep the CRL just published as ``ca/crl.pem``."""
        write_atomic(self._private(self.folder / "crl.pem"), crls_to_pem([crl]))


def init_root(
    creds: Credentials,
    passphrase: Passphrase,
    *,
    algorithm: KeyAlgorithm,
    validity: timedelta,
    now: datetime,
) -> x509.Certificate:
    """Create the national root CA: ``keys/ca.key``, ``certs/ca.pem``, a trust bundle with it."""
    config = creds.workspace.config
    if config.org_code != NATIONAL:
        raise WorkspaceError(
            f"the root CA belongs to the national federation ({NATIONAL}); "
            f"this workspace is {config.org_code}'s"
        )
    if creds.ca_key_path.exists():
        raise WorkspaceError(f"{creds.ca_key_path} exists already; refusing to replace a CA key")
    secret = passphrase(True)
    check_new_passphrase(secret, refuse=creds.refused_passphrases())
    key = generate_key(algorithm)
    cert = create_root_ca(key, config.name, now=now, validity=validity)
    save_key(key, creds.ca_key_path, secret, refuse=creds.refused_passphrases())
    write_atomic(creds.ca_cert_path, certificates_to_pem([cert]))
    creds.add_to_trust([cert])
    return cert


@dataclass(frozen=True)
class Issued:
    """A certificate this CA issued."""

    certificate: x509.Certificate
    """The new certificate."""
    chain: tuple[x509.Certificate, ...]
    """It and the intermediates up to, not including, the root: what the requester imports."""
    record: Path
    """Its copy in the CA's books."""


def ca_identity(creds: Credentials) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """This workspace's CA certificate and the intermediates it hands out (never the root)."""
    home = creds.workspace.home
    if not creds.ca_key_path.is_file():
        raise WorkspaceError(f"{home} is not a CA workspace: it has no CA key")
    if not creds.ca_cert_path.is_file():
        raise WorkspaceError(
            f"{home} has a CA key but no CA certificate: import it with 'pki import-cert'"
        )
    certs = load_certificates(creds.ca_cert_path)
    return certs[0], tuple(c for c in certs if role_of(c) is not CertificateRole.ROOT_CA)


def read_request(path: Path) -> x509.CertificateSigningRequest:
    """The certificate request in the PEM file ``path``; a bad file is the user's mistake."""
    try:
        return csr_from_pem(read_bounded(path, MAX_PEM_BYTES, "a certificate request"))
    except SigningError as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def issue_from_request(
    creds: Credentials,
    csr: x509.CertificateSigningRequest,
    passphrase: Passphrase,
    *,
    now: datetime,
    validity: timedelta | None,
) -> Issued:
    """Issue the certificate ``csr`` asks for (CA or signing) under the tier policy, record it,
    and trust it in this workspace (a province learns its cities' signing certificates)."""
    ca_cert, intermediates = ca_identity(creds)
    ca_org = org_code_of(ca_cert)
    values = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise InvalidInput("the certificate request carries no single org code")
    org = validate_division_code(values[0].value, what="the request's org code")
    upstream = upstream_of(org)
    if org != ca_org and upstream != ca_org:
        # Checked here too so that nobody types a CA passphrase for a request that must fail.
        raise InvalidInput(
            f"{org}'s upstream is {upstream or 'none'}, not {ca_org}: "
            "only its upstream's CA certifies it"
        )
    try:
        wants_ca = csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        wants_ca = False
    role = CertificateRole.PROVINCIAL_CA if wants_ca else CertificateRole.SIGNING
    key = creds.load_key(creds.ca_key_path, lambda: passphrase(False))
    cert = issue_certificate(
        ca_cert, key, csr, role, requester_upstream=upstream, now=now, validity=validity
    )
    record = CaRegistry(creds.workspace.home).record_issued(cert)
    creds.add_to_trust([cert])
    return Issued(cert, (cert, *intermediates), record)


def parse_serial(text: str) -> int:
    """A certificate serial typed in hexadecimal (``3f9a0c``, ``0x3F9A0C``, ``3f:9a:0c``)."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    if not cleaned or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise InvalidInput(f"serial {text!r} is not a hexadecimal number")
    return int(cleaned, 16)


def revoke(
    creds: Credentials,
    serial: int,
    reason: RevocationReason,
    *,
    now: datetime,
    at: datetime | None = None,
    expected: x509.Certificate | None = None,
) -> tuple[x509.Certificate, Revocation]:
    """Record the revocation of a certificate this CA issued, effective ``at`` (default ``now``).

    The entry's revocation date is when the CA records it; an earlier ``at`` becomes the entry's
    invalidity date (RFC 5280 §5.3.2), which verification honours the same way.
    """
    ca_cert, _ = ca_identity(creds)
    registry = CaRegistry(creds.workspace.home)
    cert = registry.issued(serial)
    if cert is None or (expected is not None and cert != expected):
        raise InvalidInput(
            f"certificate serial {serial:x} was not issued by this CA ({org_code_of(ca_cert)})"
        )
    if any(r.serial == serial for r in registry.revocations()):
        raise InvalidInput(f"certificate serial {serial:x} is revoked already")
    moment = _second(now)
    when = moment if at is None else _second(at)
    if when > moment:
        raise InvalidInput(f"the revocation time {format_utc(when)} lies in the future")
    record = Revocation(serial, moment, reason, when if when < moment else None)
    registry.add_revocation(record, org_code_of(cert))
    return cert, record


def publish_crl(
    creds: Credentials, passphrase: Passphrase, *, now: datetime, next_update: timedelta
) -> list[x509.CertificateRevocationList]:
    """Sign this CA's CRL of every recorded revocation, keep it, and trust it here too: one by
    the current key, then one by each retired CA key whose certificate has not expired.

    A verifier reads a certificate's revocation only from CRLs its issuer's key signed (RFC
    5280), so after a renewal the certificates the old key issued are revoked only by a CRL of
    the old key: with the current key's alone, a city revoked for key compromise went on
    issuing receipts that verified everywhere (found by an adversarial review)."""
    ca_cert, _ = ca_identity(creds)
    registry = CaRegistry(creds.workspace.home)
    revoked = registry.revocations()
    typed: list[str] = []  # asked once, for the current key and the retired ones alike

    def once() -> str:
        if not typed:
            typed.append(passphrase(False))
        return typed[0]

    key = creds.load_key(creds.ca_key_path, once)
    start = _second(now)
    number = registry.next_crl_number(start)
    crl = build_crl(ca_cert, key, revoked, start, start + next_update, number=number)
    crls = [crl]
    for old_cert, old_key_path in _retired_ca_keys(creds, ca_cert, start):
        old_key = creds.load_key(old_key_path, once)
        crls.append(
            build_crl(old_cert, old_key, revoked, start, start + next_update, number=number)
        )
    registry.record_crl(crl)
    creds.add_to_trust(crls=crls)
    return crls


def _retired_ca_keys(
    creds: Credentials, current: x509.Certificate, now: datetime
) -> list[tuple[x509.Certificate, Path]]:
    """Each retired CA certificate (``certs/ca.pem.DATE.old``) still valid at ``now``, with the
    key retired beside it (``keys/ca.key.DATE.old``): what the certificates it issued need."""
    found: list[tuple[x509.Certificate, Path]] = []
    for cert_path in sorted(creds.workspace.certs_dir.glob("ca.pem.*.old")):
        suffix = cert_path.name.removeprefix("ca.pem.")
        key_path = creds.workspace.keys_dir / f"ca.key.{suffix}"
        certs = load_certificates(cert_path)
        if not certs or not key_path.is_file():
            continue
        old = certs[0]
        if old.public_key() != current.public_key() and old.not_valid_after_utc > now:
            found.append((old, key_path))
    return found


def format_utc(moment: datetime) -> str:
    """``moment`` as the PKI commands print times: ``2026-03-01T09:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _second(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must carry a UTC offset")
    return moment.astimezone(UTC).replace(microsecond=0)
