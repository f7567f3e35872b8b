"""A workspace's requester and trust side of the PKI (docs/operations.md): key requests,
importing the certificate an upstream CA issued, merging trust bundles, and what the workspace
holds.

A key request waits next to the certificate it asks for (``certs/signing.csr``, ``certs/ca.csr``)
until that certificate is imported, so an import matches a certificate to its key without the
key's passphrase. The CA's side (its books, issuing, revoking, CRLs) is :mod:`receipts.pki.ca`; this
module reads those books only to report on them. Passphrases come from a callable
``passphrase(new)`` (:data:`receipts.pki.ca.Passphrase`), called only once every cheap check has
passed; ``new`` is true when the key is about to be created (confirm it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from receipts.domain.enums import Tier
from receipts.domain.signed_documents import chain_validator
from receipts.errors import InvalidInput, WorkspaceError
from receipts.pki.ca import CaRegistry, Passphrase, format_utc
from receipts.pki.credentials import Credentials
from receipts.pki.keyfile import save_key
from receipts.pki.own_certificates import record_own_certificate
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_PEM_BYTES, read_bounded
from signing.certificate_profile import expiry_warnings, key_id, name_of, org_code_of, role_of
from signing.certificates import (
    CertificateRole,
    certificates_from_pem,
    certificates_to_pem,
    create_csr,
    csr_from_pem,
    csr_to_pem,
    load_certificates,
)
from signing.crl import crl_is_from, crls_from_pem
from signing.errors import SigningError
from signing.keys import (
    KeyAlgorithm,
    check_new_passphrase,
    generate_key,
    key_algorithm_of,
)
from signing.result import FindingCode
from signing.trust import TrustBundle

__all__ = [
    "Imported",
    "KeyRequest",
    "TrustImport",
    "check_root",
    "crl_warnings",
    "describe",
    "import_certificate",
    "import_trust",
    "new_request",
    "read_certificates",
    "trust_counts",
    "workspace_status",
]


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
        key = creds.load_key(key_path, lambda: passphrase(False))
        if algorithm is not None and key_algorithm_of(key) is not algorithm:
            raise InvalidInput(
                f"the pending key {key_path} is {key_algorithm_of(key).value}, not "
                f"{algorithm.value}; pass --renew for a new key"
            )
        csr = create_csr(key, org, config.name, role)
        write_atomic(csr_path, csr_to_pem(csr))
        return KeyRequest(csr, key_path, True, ())
    secret = passphrase(True)
    # Checked before the old files are retired: a refused passphrase changes nothing.
    check_new_passphrase(secret, refuse=creds.refused_passphrases())
    key = generate_key(algorithm or KeyAlgorithm.ECDSA_P256)
    csr = create_csr(key, org, config.name, role)
    retired = tuple(_retire(p, today) for p in (key_path, cert_path, csr_path) if p.exists())
    save_key(key, key_path, secret, refuse=creds.refused_passphrases())
    write_atomic(csr_path, csr_to_pem(csr))
    return KeyRequest(csr, key_path, False, retired)


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


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates in the PEM file ``path`` (at least one); a bad file is the user's
    mistake."""
    try:
        certs = certificates_from_pem(read_bounded(path, MAX_PEM_BYTES, "a certificate file"))
    except SigningError as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    if not certs:
        raise InvalidInput(f"{path} holds no certificate")
    return certs


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
    result = chain_validator(bundle).validate(leaf, extra, at=now)
    problems = [
        f for f in result.findings if not (role.is_ca and f.code == FindingCode.BAD_KEY_USAGE)
    ]
    if problems:
        raise InvalidInput(f"the certificate is refused: {problems[0].message}")
    write_atomic(cert_path, certificates_to_pem(result.chain[:-1]))
    if not role.is_ca:  # the audit accepts heads only from the workspace's own certificates
        record_own_certificate(creds.workspace, leaf, now)
    creds.add_to_trust(result.chain)
    csr_path.unlink(missing_ok=True)
    return Imported(leaf, result.chain, cert_path, tuple(expiry_warnings([leaf], now)))


@dataclass(frozen=True)
class TrustImport:
    """What merging a bundle changed."""

    bundle: TrustBundle
    """The workspace's trust after the merge."""
    new_certificates: int
    """Certificates it did not hold before."""
    new_crls: int
    """CRLs it did not hold before (a newer CRL of a CA key replaces the older)."""


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
    validator = chain_validator(TrustBundle(roots, cas))
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
        "not_before": format_utc(cert.not_valid_before_utc),
        "not_after": format_utc(cert.not_valid_after_utc),
    }


def trust_counts(bundle: TrustBundle) -> dict[str, int]:
    """How many roots, CA certificates, signing certificates and CRLs ``bundle`` holds."""
    return {
        "roots": len(bundle.roots),
        "cas": len(bundle.cas),
        "signing": len(bundle.signing),
        "crls": len(bundle.crls),
    }


def crl_warnings(bundle: TrustBundle, now: datetime) -> list[str]:
    """One sentence per CRL whose next update has passed (ask its CA for a new one)."""
    return [
        f"the CRL of {_name_label(crl.issuer)} was due for renewal on "
        f"{format_utc(crl.next_update_utc)}"
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
                format_utc(last.next_update_utc) if last and last.next_update_utc else None
            )
        status["ca" if ca else "signing"] = entry
    trust = _current_trust(creds)
    status["trust"] = (
        None if trust is None else {**trust_counts(trust), "warnings": crl_warnings(trust, now)}
    )
    return status


def _slot(creds: Credentials, ca: bool) -> tuple[Path, Path, Path]:
    """The key, certificate and pending-request files of the CA key or the signing key."""
    if ca:
        return creds.ca_key_path, creds.ca_cert_path, creds.workspace.certs_dir / "ca.csr"
    return (
        creds.signing_key_path,
        creds.signing_cert_path,
        creds.workspace.certs_dir / "signing.csr",
    )


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


def _retire(path: Path, today: date) -> Path:
    stem, n = f"{path.name}.{today:%Y%m%d}", 1
    target = path.with_name(f"{stem}.old")
    while target.exists():
        n += 1
        target = path.with_name(f"{stem}-{n}.old")
    os.replace(path, target)
    return target
