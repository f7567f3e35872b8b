"""What a tier certificate holds, and reading it back: roles, default validities, the subject
layout and key usage; the org code, name, role and key id of a certificate; expiry warnings.

The hierarchy mirrors the tiers (docs/security.md): the national root CA (org ``000000``, path
length 1) certifies provincial CAs (path length 0) and the national federation's signing
certificate; a provincial CA certifies its own federation's signing certificate and those of its
city tier.

**The org code lives in exactly one subject attribute**, ``organizationIdentifier``
(``NameOID.ORGANIZATION_IDENTIFIER``, OID 2.5.4.97), as six digits. The federation's name is in
``O`` (in full) and ``CN`` (shortened to 64 characters, the RFC 5280 upper bound), both UTF8String.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from cryptography import x509
from cryptography.x509.oid import NameOID

from signing.errors import PolicyViolation, UntrustedCertificate

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_VALIDITY",
    "NATIONAL_ORG",
    "CertificateRole",
    "ValidityDefaults",
    "check_org_code",
    "expiry_warnings",
    "key_id",
    "name_of",
    "org_code_in",
    "org_code_of",
    "org_name_in",
    "role_of",
    "tier_key_usage",
    "tier_subject",
    "utc_seconds",
]

#: The national federation's org code; it owns the root CA.
NATIONAL_ORG = "000000"
#: How far before ``now`` a new certificate's validity starts. The requester validates the
#: certificate it imports against its own clock; one a few minutes behind the CA's must not find
#: a fresh certificate "not yet valid". The end of validity is not moved.
CLOCK_SKEW = timedelta(minutes=5)
_ORG_CODE = re.compile(r"[0-9]{6}")
_CN_MAX = 64


class CertificateRole(Enum):
    """What a certificate is for; fixes its BasicConstraints and KeyUsage."""

    ROOT_CA = "root-ca"
    PROVINCIAL_CA = "provincial-ca"
    SIGNING = "signing"

    @classmethod
    def _missing_(cls, value: object) -> CertificateRole:
        raise PolicyViolation(
            f"unknown certificate role {value!r}; use one of: {', '.join(m.value for m in cls)}"
        )

    @property
    def is_ca(self) -> bool:
        """Whether certificates of this role may issue certificates and CRLs."""
        return self is not CertificateRole.SIGNING

    @property
    def path_length(self) -> int | None:
        """BasicConstraints pathLenConstraint: root 1, provincial CA 0, none for a leaf."""
        return {CertificateRole.ROOT_CA: 1, CertificateRole.PROVINCIAL_CA: 0}.get(self)


@dataclass(frozen=True)
class ValidityDefaults:
    """How long a new certificate of each role is valid unless the caller says otherwise."""

    root_ca: timedelta = timedelta(days=round(365.25 * 20))
    """National root CA: 20 years."""

    provincial_ca: timedelta = timedelta(days=round(365.25 * 10))
    """Provincial CA: 10 years."""

    signing: timedelta = timedelta(days=round(365.25 * 3))
    """A federation's receipt-signing certificate: 3 years."""

    def for_role(self, role: CertificateRole) -> timedelta:
        """The default validity of ``role``."""
        return {
            CertificateRole.ROOT_CA: self.root_ca,
            CertificateRole.PROVINCIAL_CA: self.provincial_ca,
            CertificateRole.SIGNING: self.signing,
        }[role]


DEFAULT_VALIDITY = ValidityDefaults()


def check_org_code(org_code: str) -> str:
    """``org_code`` itself when it is six digits; else :class:`PolicyViolation`."""
    if not isinstance(org_code, str) or not _ORG_CODE.fullmatch(org_code):
        raise PolicyViolation(f"org code {org_code!r} is not six digits")
    return org_code


def tier_subject(org_code: str, name: str) -> x509.Name:
    """The subject of a federation's certificate or request: C, O, organizationIdentifier, CN."""
    name = name.strip()
    if not name:
        raise PolicyViolation("an organisation name is required in a certificate subject")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, check_org_code(org_code)),
            x509.NameAttribute(NameOID.COMMON_NAME, _shorten_cn(name)),
        ]
    )


def _shorten_cn(name: str) -> str:
    # cryptography enforces CN <= 64 UTF-8 bytes; O keeps the full name, so cut on a character.
    while len(name.encode("utf-8")) > _CN_MAX:
        name = name[:-1]
    return name


def tier_key_usage(role: CertificateRole) -> x509.KeyUsage:
    """KeyUsage of ``role``: certificate and CRL signing for a CA, signatures for a leaf."""
    ca = role.is_ca
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def utc_seconds(moment: datetime | None) -> datetime:
    """``moment`` (now when None) in UTC, whole seconds; a naive datetime is refused."""
    value = datetime.now(UTC) if moment is None else moment
    if value.tzinfo is None:
        raise ValueError("times must carry a UTC offset (a naive datetime is ambiguous)")
    # X.509 times have whole seconds; truncating here keeps comparisons exact.
    return value.astimezone(UTC).replace(microsecond=0)


def org_code_in(name: x509.Name, what: str) -> str:
    """The one six-digit organizationIdentifier of ``name``; else :class:`PolicyViolation`."""
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise PolicyViolation(f"{what} must carry exactly one organizationIdentifier (org code)")
    return check_org_code(values[0].value)


def org_name_in(name: x509.Name, what: str) -> str:
    """The organisation's name in ``name`` (``O``, else ``CN``); else :class:`PolicyViolation`."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = name.get_attributes_for_oid(oid)
        if values and isinstance(values[0].value, str):
            return values[0].value
    raise PolicyViolation(f"{what} carries no organisation name")


def org_code_of(cert: x509.Certificate) -> str:
    """The six-digit org code in the subject's ``organizationIdentifier``."""
    try:
        return org_code_in(cert.subject, "a certificate")
    except PolicyViolation as exc:
        raise UntrustedCertificate(f"{exc} (subject {cert.subject.rfc4514_string()})") from None


def name_of(cert: x509.Certificate) -> str:
    """The organisation's full name (subject ``O``, else ``CN``)."""
    try:
        return org_name_in(cert.subject, "a certificate")
    except PolicyViolation as exc:
        raise UntrustedCertificate(str(exc)) from None


def role_of(cert: x509.Certificate) -> CertificateRole:
    """The role a certificate was issued for, read from BasicConstraints and self-signature."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return CertificateRole.SIGNING
    if not constraints.ca:
        return CertificateRole.SIGNING
    if cert.subject == cert.issuer:
        return CertificateRole.ROOT_CA
    return CertificateRole.PROVINCIAL_CA


def key_id(cert: x509.Certificate) -> str:
    """First 8 hex digits (lower case) of the certificate's SubjectKeyIdentifier (the QR key id)."""
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise UntrustedCertificate("the certificate has no SubjectKeyIdentifier") from None
    return ski.digest.hex()[:8]


def expiry_warnings(
    certs: Iterable[x509.Certificate], now: datetime, within: timedelta = timedelta(days=90)
) -> list[str]:
    """One sentence per certificate that has expired or expires within ``within`` of ``now``."""
    moment = utc_seconds(now)
    warnings: list[str] = []
    for cert in sorted(certs, key=lambda c: c.not_valid_after_utc):
        end = cert.not_valid_after_utc
        label = _label(cert)
        if end < moment:
            warnings.append(f"{label} expired on {end:%Y-%m-%d}")
        elif end <= moment + within:
            days = (end - moment).days
            warnings.append(f"{label} expires on {end:%Y-%m-%d}, in {days} days")
    return warnings


def _label(cert: x509.Certificate) -> str:
    # Warnings must not fail on a foreign certificate that lacks our subject attributes.
    try:
        return f"certificate {name_of(cert)} ({org_code_of(cert)}, key {key_id(cert)})"
    except UntrustedCertificate:
        return f"certificate {cert.subject.rfc4514_string()}"
