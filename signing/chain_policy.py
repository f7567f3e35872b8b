"""What a built certificate chain must satisfy beyond its signatures (docs/security.md): the
signing certificate is an end-entity certificate for signatures, and every link keeps to the
tiers, a CA certifying only the organisations its own may certify. :mod:`signing.trust` checks
these once per chain it builds and caches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing.certificate_profile import CertificateRole, key_id, org_code_of, role_of
from signing.errors import SigningError

__all__ = ["IssuerRule", "Purpose", "describe", "tier_problem", "usage_problem"]

#: ``issuer_may_certify(issuer_org_code, subject_org_code)``: whether the organisation of an
#: issuing CA may certify the subject's organisation (its own signing certificate included).
IssuerRule = Callable[[str, str], bool]


_EKU_NAMES = {ExtendedKeyUsageOID.TIME_STAMPING: "id-kp-timeStamping"}

Purpose = Literal["document", "time-stamp"]
"""What a leaf signs: documents (receipts, packages, statements, allocations, seals, tier
requests), or RFC 3161 time-stamps (whose own profile ``signing.timestamps`` checks)."""


def usage_problem(leaf: x509.Certificate, purpose: Purpose = "document") -> str | None:
    """Why ``leaf`` may not sign for ``purpose``, if it may not.

    A document signer carries no extended key usage: our signing certificates have none, and
    the one that does, a time-stamp authority's (id-kp-timeStamping, on a network service), is
    for time-stamps only. Without this its key signed allocations, statements, manifests and
    tier requests as its CA's organisation (found by an adversarial review).
    """
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return f"{describe(leaf)} lacks BasicConstraints or KeyUsage: it is not for signing"
    if constraints.ca:
        return f"{describe(leaf)} is a CA certificate: CAs never sign documents"
    if not (usage.digital_signature and usage.content_commitment):
        return f"{describe(leaf)} does not allow digitalSignature and nonRepudiation"
    if purpose == "document":
        try:
            extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return None
        names = ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in extended)
        return f"{describe(leaf)} is for {names} only (extended key usage): it signs no documents"
    return None


def tier_problem(
    links: Sequence[tuple[x509.Certificate, x509.Certificate]], rule: IssuerRule | None
) -> str | None:
    """The first link (certificate, issuer) that breaks the tier policy, described; else None.

    The roles are those :func:`signing.certificates.issue_certificate` grants: a CA certifies
    its own organisation only with a signing certificate, and a root certifies other
    organisations only with CA certificates. Checking them and ``rule`` here, not only at
    issuance, means a CA key used outside its tier vouches for nothing.
    """
    for cert, issuer in links:
        try:
            subject_org, issuer_org = org_code_of(cert), org_code_of(issuer)
        except SigningError as exc:
            return f"{describe(cert)}: its tier cannot be checked: {exc}"
        role = role_of(cert)
        if subject_org == issuer_org and role is not CertificateRole.SIGNING:
            return f"{describe(cert)} is a CA certificate its own organisation's CA certified"
        if (
            subject_org != issuer_org
            and role_of(issuer) is CertificateRole.ROOT_CA
            and role is CertificateRole.SIGNING
        ):
            return (
                f"{describe(cert)} is certified directly by the root CA of {issuer_org}, "
                "which certifies other organisations only with CA certificates"
            )
        if rule is not None and not rule(issuer_org, subject_org):
            return (
                f"{describe(cert)} is certified by the CA of {issuer_org}, which may not "
                f"certify {subject_org}: it lies outside that CA's tier"
            )
    return None


def describe(cert: x509.Certificate) -> str:
    """The certificate named for a finding: its organisation, key and serial."""
    try:
        org = org_code_of(cert)
    except SigningError:
        org = cert.subject.rfc4514_string()
    try:
        return f"certificate of {org} (key {key_id(cert)}, serial {cert.serial_number:x})"
    except SigningError:
        return f"certificate of {org} (serial {cert.serial_number:x})"
