"""PEM text for what crosses tiers: certificates, chains, CSRs and CRLs.

Certificates and CRLs may share one file (a trust bundle): each reader picks its own blocks and
skips the others, and any text between blocks. Files are read here; writing them is the
caller's (``receipts`` writes atomically).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.errors import PolicyViolation, UntrustedCertificate

__all__ = [
    "certificates_from_pem",
    "certificates_to_pem",
    "crls_from_pem",
    "crls_to_pem",
    "csr_from_pem",
    "csr_to_pem",
    "load_certificates",
    "load_crls",
]


def _blocks(data: bytes, label: bytes) -> list[bytes]:
    begin, end = b"-----BEGIN " + label + b"-----", b"-----END " + label + b"-----"
    blocks, rest = [], data
    while (start := rest.find(begin)) >= 0:
        stop = rest.find(end, start)
        if stop < 0:
            raise UntrustedCertificate(f"unterminated PEM block {label.decode()}")
        blocks.append(rest[start : stop + len(end)] + b"\n")
        rest = rest[stop + len(end) :]
    return blocks


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UntrustedCertificate(f"cannot read {path}: {exc.strerror or exc}") from None


def certificates_to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Concatenated PEM blocks of ``certs``, in order (leaf first for a chain)."""
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def certificates_from_pem(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM text, in order; other blocks (CRLs) are skipped."""
    blocks = _blocks(data, b"CERTIFICATE")
    if not blocks:
        return []
    try:
        return x509.load_pem_x509_certificates(b"".join(blocks))
    except ValueError as exc:
        raise UntrustedCertificate(f"cannot read certificates: {exc}") from None


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Every certificate in the PEM file at ``path`` (at least one)."""
    certs = certificates_from_pem(_read(path))
    if not certs:
        raise UntrustedCertificate(f"{path} holds no certificate")
    return certs


def csr_to_pem(csr: x509.CertificateSigningRequest) -> bytes:
    """PEM text of a certificate request, which is what crosses tiers."""
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_from_pem(data: bytes) -> x509.CertificateSigningRequest:
    """Read a PEM certificate request; a malformed one is a :class:`PolicyViolation`."""
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise PolicyViolation(f"cannot read the certificate request: {exc}") from None


def crls_to_pem(crls: Iterable[x509.CertificateRevocationList]) -> bytes:
    """Concatenated ``-----BEGIN X509 CRL-----`` blocks."""
    return b"".join(crl.public_bytes(serialization.Encoding.PEM) for crl in crls)


def crls_from_pem(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL block in a PEM text; certificate blocks are skipped."""
    try:
        return [x509.load_pem_x509_crl(block) for block in _blocks(data, b"X509 CRL")]
    except ValueError as exc:
        raise UntrustedCertificate(f"cannot read a CRL: {exc}") from None


def load_crls(path: str | os.PathLike[str]) -> list[x509.CertificateRevocationList]:
    """Every CRL in the PEM file at ``path``."""
    return crls_from_pem(_read(path))
