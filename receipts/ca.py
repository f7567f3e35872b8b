"""A workspace's PKI work (SPEC §4): the root CA, key requests, issuing, importing, revoking,
CRLs and trust bundles. No click here: ``receipts/commands/pki_cmds.py`` parses and prints.

A CA workspace (the national root, a provincial CA) keeps its books under ``ca/``::

    ca/issued/<serial-hex>.pem   every certificate this CA issued, one PEM file each
    ca/revocations.json          the revocations it recorded: serial, org, times, reason
    ca/crl.pem                   the last CRL it published

A key request waits next to the certificate it asks for (``certs/signing.csr``, ``certs/ca.csr``)
until that certificate is imported, so an import matches a certificate to its key without the
key's passphrase. Passphrases come from a callable ``passphrase(new)``, called only once every
cheap check has passed; ``new`` is true when the key is about to be created (confirm it).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from receipts.credentials import Credentials
from receipts.divisions import NATIONAL, upstream_of, validate_division_code
from receipts.errors import InvalidInput, WorkspaceError
from receipts.tiers import Tier
from signing.certificates import (
    CertificateRole,
    certificates_from_pem,
    certificates_to_pem,
    create_csr,
    create_root_ca,
    csr_from_pem,
    csr_to_pem,
    expiry_warnings,
    issue_certificate,
    key_id,
    load_certificates,
    name_of,
    org_code_of,
    role_of,
)
from signing.crl import (
    Revocation,
    RevocationReason,
    build_crl,
    crl_is_from,
    crls_from_pem,
    crls_to_pem,
)
from signing.errors import SigningError
from signing.keys import KeyAlgorithm, generate_key, key_algorithm_of, load_key, save_key
from signing.result import FindingCode
from signing.trust import ChainValidator, TrustBundle

__all__ = [
    "CaRegistry",
    "Imported",
    "Issued",
    "KeyRequest",
    "Passphrase",
    "TrustImport",
    "ca_identity",
    "check_root",
    "crl_warnings",
    "describe",
    "import_certificate",
    "import_trust",
    "init_root",
    "issue_from_request",
    "new_request",
    "publish_crl",
    "revoke",
    "workspace_status",
]

#: ``passphrase(new)``: the passphrase of the key concerned; ``new`` when creating that key.
Passphrase = Callable[[bool], str]


class CaRegistry:
    """The books of a CA workspace: the certificates it issued, its revocations, its last CRL."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "ca"

    def _issued_path(self, serial: int) -> Path:
        return self.folder / "issued" / f"{serial:x}.pem"

    def record_issued(self, cert: x509.Certificate) -> Path:
        """Keep a copy of a certificate this CA issued, named by its serial."""
        path = self._issued_path(cert.serial_number)
        _write_atomic(path, certificates_to_pem([cert]))
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
        _write_atomic(self.folder / "revocations.json", text.encode("utf-8"))

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
        _write_atomic(self.folder / "crl.pem", crls_to_pem([crl]))


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
    key = generate_key(algorithm)
    cert = create_root_ca(key, config.name, now=now, validity=validity)
    save_key(key, creds.ca_key_path, secret)
    _write_atomic(creds.ca_cert_path, certificates_to_pem([cert]))
    creds.add_to_trust([cert])
    return cert


@dataclass(frozen=True)
class KeyRequest:
    """A certificate request made by :func:`new_request`."""

    csr: x509.CertificateSigningRequest
    """The request to send upstream."""
    key_path: Path
    """Where its key is kept, encrypted."""
    reused: bool
    """True when the pending key of an earlier request was reused (no new key)."""
    retired: tuple[Path, ...]
    """Old key, certificate and request files renamed to ``<name>.<yyyymmdd>.old``."""


def _slot(creds: Credentials, ca: bool) -> tuple[Path, Path, Path]:
    if ca:
        return creds.ca_key_path, creds.ca_cert_path, creds.workspace.certs_dir / "ca.csr"
    return (
        creds.signing_key_path,
        creds.signing_cert_path,
        creds.workspace.certs_dir / "signing.csr",
    )


def new_request(
    creds: Credentials,
    passphrase: Passphrase,
    *,
    ca: bool,
    algorithm: KeyAlgorithm | None,
    renew: bool,
    today: date,
) -> KeyRequest:
    """A CSR for this federation's signing key, or (``ca``) for a provincial CA key.

    A pending key (no certificate imported yet) is reused; a key whose certificate was imported
    is replaced only with ``renew``, and the old files are kept under ``*.old`` names.
    """
    config = creds.workspace.config
    org = _org(creds)
    if ca and config.tier is not Tier.PROVINCIAL:
        if config.tier is Tier.NATIONAL:
            raise InvalidInput("the national federation's CA is the root: use 'pki init-root'")
        raise InvalidInput(
            f"only a provincial federation has a CA; {org} is {config.tier}-tier and "
            "requests a signing certificate only"
        )
    role = CertificateRole.PROVINCIAL_CA if ca else CertificateRole.SIGNING
    key_path, cert_path, csr_path = _slot(creds, ca)
    if key_path.exists() and not renew:
        if cert_path.exists():
            raise WorkspaceError(
                f"{key_path} already has its certificate ({cert_path}); "
                "pass --renew for a new key (the old one is kept)"
            )
        key = load_key(key_path, passphrase(False))
        if algorithm is not None and key_algorithm_of(key) is not algorithm:
            raise InvalidInput(
                f"the pending key {key_path} is {key_algorithm_of(key).value}, not "
                f"{algorithm.value}; pass --renew for a new key"
            )
        csr = create_csr(key, org, config.name, role)
        _write_atomic(csr_path, csr_to_pem(csr))
        return KeyRequest(csr, key_path, True, ())
    secret = passphrase(True)
    key = generate_key(algorithm or KeyAlgorithm.ECDSA_P256)
    csr = create_csr(key, org, config.name, role)
    retired = tuple(_retire(p, today) for p in (key_path, cert_path, csr_path) if p.exists())
    save_key(key, key_path, secret)
    _write_atomic(csr_path, csr_to_pem(csr))
    return KeyRequest(csr, key_path, False, retired)


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
    key = load_key(creds.ca_key_path, passphrase(False))
    cert = issue_certificate(
        ca_cert, key, csr, role, requester_upstream=upstream, now=now, validity=validity
    )
    record = CaRegistry(creds.workspace.home).record_issued(cert)
    creds.add_to_trust([cert])
    return Issued(cert, (cert, *intermediates), record)


@dataclass(frozen=True)
class Imported:
    """A certificate imported into the workspace that requested it."""

    certificate: x509.Certificate
    """The imported certificate."""
    chain: tuple[x509.Certificate, ...]
    """The validated chain, leaf first, root last."""
    path: Path
    """``certs/signing.pem`` or ``certs/ca.pem``."""
    warnings: tuple[str, ...]
    """Expiry warnings (within 90 days)."""


def import_certificate(
    creds: Credentials,
    certs: Sequence[x509.Certificate],
    root: x509.Certificate | None,
    *,
    now: datetime,
) -> Imported:
    """Install ``certs`` (leaf first) for this workspace's pending key after validating the chain
    to the trusted root (or ``root``, the first time) as of ``now``; trust the whole chain."""
    leaf, org = certs[0], _org(creds)
    if org_code_of(leaf) != org:
        raise InvalidInput(
            f"the certificate was issued to {org_code_of(leaf)} ({name_of(leaf)}), "
            f"not to this workspace's {org}"
        )
    role = role_of(leaf)
    if role is CertificateRole.ROOT_CA:
        raise InvalidInput("the certificate is a self-signed root: give it with --root instead")
    key_path, cert_path, csr_path = _slot(creds, role.is_ca)
    known = [csr_from_pem(csr_path.read_bytes()).public_key()] if csr_path.is_file() else []
    if cert_path.is_file():
        known.append(load_certificates(cert_path)[0].public_key())
    what = "CA" if role.is_ca else "signing"
    if not known or not key_path.is_file():
        raise WorkspaceError(
            f"this workspace has no pending request for a {what} certificate: "
            f"run 'pki csr{' --ca' if role.is_ca else ''}' first"
        )
    if leaf.public_key() not in known:
        raise InvalidInput(
            f"the certificate (key {key_id(leaf)}) is not for this workspace's {what} key "
            f"{key_path}"
        )
    current = _current_trust(creds)
    trusted = current.roots if current else ()
    if root is not None:
        check_root(root, "the given root")
        if trusted and root not in trusted:
            raise InvalidInput(
                f"the given root (key {key_id(root)}) is not the root this workspace trusts "
                f"(key {', '.join(key_id(r) for r in trusted)})"
            )
    anchors = trusted or ((root,) if root is not None else ())
    if not anchors:
        raise WorkspaceError("this workspace trusts no root yet: give the national root (--root)")
    bundle = TrustBundle(
        anchors, current.cas if current else (), (), current.crls if current else ()
    )
    extra = [c for c in certs[1:] if role_of(c) is not CertificateRole.ROOT_CA]
    result = ChainValidator(bundle).validate(leaf, extra, at=now)
    problems = [
        f for f in result.findings if not (role.is_ca and f.code == FindingCode.BAD_KEY_USAGE)
    ]
    if problems:
        raise InvalidInput(f"the certificate is refused: {problems[0].message}")
    _write_atomic(cert_path, certificates_to_pem(result.chain[:-1]))
    creds.add_to_trust(result.chain)
    csr_path.unlink(missing_ok=True)
    return Imported(leaf, result.chain, cert_path, tuple(expiry_warnings([leaf], now)))


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
        raise InvalidInput(f"the revocation time {_ts(when)} lies in the future")
    record = Revocation(serial, moment, reason, when if when < moment else None)
    registry.add_revocation(record, org_code_of(cert))
    return cert, record


def publish_crl(
    creds: Credentials, passphrase: Passphrase, *, now: datetime, next_update: timedelta
) -> x509.CertificateRevocationList:
    """Sign this CA's CRL of every recorded revocation, keep it, and trust it here too."""
    ca_cert, _ = ca_identity(creds)
    registry = CaRegistry(creds.workspace.home)
    revoked = registry.revocations()
    key = load_key(creds.ca_key_path, passphrase(False))
    start = _second(now)
    number = registry.next_crl_number(start)
    crl = build_crl(ca_cert, key, revoked, start, start + next_update, number=number)
    registry.record_crl(crl)
    creds.add_to_trust(crls=[crl])
    return crl


@dataclass(frozen=True)
class TrustImport:
    """What merging a bundle changed."""

    bundle: TrustBundle
    """The workspace's trust after the merge."""
    new_certificates: int
    """Certificates it did not hold before."""
    new_crls: int
    """CRLs it did not hold before (a newer CRL of a CA replaces the older)."""


def import_trust(creds: Credentials, data: bytes, source: str, *, add_root: bool) -> TrustImport:
    """Merge a bundle's certificates and CRLs, all or nothing: every certificate must chain to a
    trusted root (or one in the bundle, the first time, or with ``add_root``), every CRL must be
    signed by a CA known then."""
    try:
        incoming = TrustBundle.of(certificates_from_pem(data), crls_from_pem(data))
    except SigningError as exc:
        raise InvalidInput(f"{source}: {exc}") from None
    if not incoming.certificates and not incoming.crls:
        raise InvalidInput(f"{source} holds no certificate or CRL")
    current = _current_trust(creds)
    trusted = current.roots if current else ()
    for root in incoming.roots:
        check_root(root, f"{source}: a root")
        if trusted and root not in trusted and not add_root:
            raise InvalidInput(
                f"{source} brings a root this workspace does not trust ({_label(root)}); "
                "pass --add-root to trust it as well"
            )
    roots = trusted + tuple(r for r in incoming.roots if r not in trusted)
    if not roots:
        raise InvalidInput(f"{source} holds no root certificate and this workspace trusts none")
    cas = (current.cas if current else ()) + incoming.cas
    validator = ChainValidator(TrustBundle(roots, cas))
    for cert in incoming.cas + incoming.signing:
        if not validator.validate(cert, at=cert.not_valid_before_utc).chain:
            raise InvalidInput(f"{source}: {_label(cert)} does not chain to a trusted root")
    for crl in incoming.crls:
        if not any(crl_is_from(crl, ca) for ca in roots + cas):
            raise InvalidInput(
                f"{source}: the CRL of {_name_label(crl.issuer)} is not signed by a trusted CA"
            )
    old_certs = current.certificates if current else ()
    old_crls = current.crls if current else ()
    merged = creds.add_to_trust(incoming.certificates, incoming.crls)
    return TrustImport(
        merged,
        sum(1 for c in merged.certificates if c not in old_certs),
        sum(1 for c in merged.crls if c not in old_crls),
    )


def check_root(cert: x509.Certificate, what: str) -> None:
    """Refuse ``cert`` unless it is a self-signed CA certificate whose signature verifies."""
    if role_of(cert) is not CertificateRole.ROOT_CA:
        raise InvalidInput(f"{what} ({_label(cert)}) is not a self-signed root CA certificate")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        raise InvalidInput(f"{what} ({_label(cert)}): its self-signature does not verify") from None


def describe(cert: x509.Certificate) -> dict[str, str]:
    """The facts about a certificate a person checks: subject, org, role, serial, key, validity."""
    return {
        "subject": name_of(cert),
        "org": org_code_of(cert),
        "role": role_of(cert).value,
        "serial": f"{cert.serial_number:x}",
        "key_id": key_id(cert),
        "not_before": _ts(cert.not_valid_before_utc),
        "not_after": _ts(cert.not_valid_after_utc),
    }


def crl_warnings(bundle: TrustBundle, now: datetime) -> list[str]:
    """One sentence per CRL whose next update has passed (ask its CA for a new one)."""
    return [
        f"the CRL of {_name_label(crl.issuer)} was due for renewal on {_ts(crl.next_update_utc)}"
        for crl in bundle.crls
        if crl.next_update_utc is not None and crl.next_update_utc < now
    ]


def workspace_status(creds: Credentials, now: datetime) -> dict[str, Any]:
    """The workspace's own keys and certificates, its CA books, and what its trust holds."""
    status: dict[str, Any] = {"org": creds.workspace.config.org_code}
    for ca in (False, True):
        key_path, cert_path, csr_path = _slot(creds, ca)
        if not key_path.is_file():
            status["ca" if ca else "signing"] = {"state": "none"}
            continue
        state = "installed" if cert_path.is_file() else "pending" if csr_path.is_file() else "key"
        entry: dict[str, Any] = {"state": state}
        if cert_path.is_file():
            cert = load_certificates(cert_path)[0]
            entry["certificate"] = describe(cert)
            entry["warnings"] = expiry_warnings([cert], now)
        if ca:
            registry = CaRegistry(creds.workspace.home)
            last = registry.last_crl()
            entry["issued"] = registry.issued_count()
            entry["revoked"] = len(registry.revocations())
            entry["crl_next_update"] = (
                _ts(last.next_update_utc) if last and last.next_update_utc else None
            )
        status["ca" if ca else "signing"] = entry
    trust = _current_trust(creds)
    status["trust"] = (
        None
        if trust is None
        else {
            "roots": len(trust.roots),
            "cas": len(trust.cas),
            "signing": len(trust.signing),
            "crls": len(trust.crls),
            "warnings": crl_warnings(trust, now),
        }
    )
    return status


def _org(creds: Credentials) -> str:
    org = creds.workspace.config.org_code
    if org is None:
        raise WorkspaceError(f"{creds.workspace.home} is a payer workspace: it holds no keys")
    return org


def _current_trust(creds: Credentials) -> TrustBundle | None:
    return TrustBundle.load(creds.bundle_path) if creds.bundle_path.is_file() else None


def _label(cert: x509.Certificate) -> str:
    try:
        return f"certificate of {org_code_of(cert)} {name_of(cert)}, key {key_id(cert)}"
    except SigningError:
        return f"certificate {cert.subject.rfc4514_string()}"


def _name_label(name: x509.Name) -> str:
    orgs = name.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    names = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if orgs and names:
        return f"{orgs[0].value!s} {names[0].value!s}"
    return name.rfc4514_string()


def _second(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must carry a UTC offset")
    return moment.astimezone(UTC).replace(microsecond=0)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _retire(path: Path, today: date) -> Path:
    stem, n = f"{path.name}.{today:%Y%m%d}", 1
    target = path.with_name(f"{stem}.old")
    while target.exists():
        n += 1
        target = path.with_name(f"{stem}-{n}.old")
    os.replace(path, target)
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder and rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
