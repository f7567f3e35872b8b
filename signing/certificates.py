"""X.509 certificates for the federation tiers: root CA, CSRs, policy-checked issuance, helpers.

The hierarchy mirrors the tiers (SPEC §4): the national root CA (org ``000000``, path length 1)
certifies provincial CAs (path length 0) and the national federation's signing certificate; a
provincial CA certifies its own federation's signing certificate and those of its city tier.

**The org code lives in exactly one subject attribute**, ``organizationIdentifier``
(``NameOID.ORGANIZATION_IDENTIFIER``, OID 2.5.4.97), as six digits. The federation's name is in
``O`` (in full) and ``CN`` (shortened to 64 characters, the RFC 5280 upper bound), both UTF8String.

Org rules (whose upstream a federation is) belong to ``receipts``: the caller passes the result in
(``requester_upstream``), so this module knows only codes and certificates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from signing.errors import KeyFileError, PolicyViolation, UntrustedCertificate
from signing.keys import PrivateKey, key_algorithm_of
from signing.pem import (
    certificates_from_pem,
    certificates_to_pem,
    csr_from_pem,
    csr_to_pem,
    load_certificates,
)

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_VALIDITY",
    "NATIONAL_ORG",
    "CertificateRole",
    "ValidityDefaults",
    "certificates_from_pem",
    "certificates_to_pem",
    "create_csr",
    "create_root_ca",
    "csr_from_pem",
    "csr_to_pem",
    "expiry_warnings",
    "issue_certificate",
    "key_id",
    "load_certificates",
    "name_of",
    "org_code_of",
    "role_of",
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


def _check_org_code(org_code: str) -> str:
    if not isinstance(org_code, str) or not _ORG_CODE.fullmatch(org_code):
        raise PolicyViolation(f"org code {org_code!r} is not six digits")
    return org_code


def _subject(org_code: str, name: str) -> x509.Name:
    name = name.strip()
    if not name:
        raise PolicyViolation("an organisation name is required in a certificate subject")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, _check_org_code(org_code)),
            x509.NameAttribute(NameOID.COMMON_NAME, _shorten_cn(name)),
        ]
    )


def _shorten_cn(name: str) -> str:
    # cryptography enforces CN <= 64 UTF-8 bytes; O keeps the full name, so cut on a character.
    while len(name.encode("utf-8")) > _CN_MAX:
        name = name[:-1]
    return name


def _key_usage(role: CertificateRole) -> x509.KeyUsage:
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


def _utc(moment: datetime | None) -> datetime:
    value = datetime.now(UTC) if moment is None else moment
    if value.tzinfo is None:
        raise ValueError("times must carry a UTC offset (a naive datetime is ambiguous)")
    # X.509 times have whole seconds; truncating here keeps comparisons exact.
    return value.astimezone(UTC).replace(microsecond=0)


def _build(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    issuer_ski: x509.SubjectKeyIdentifier,
    role: CertificateRole,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=role.is_ca, path_length=role.path_length), True)
        .add_extension(_key_usage(role), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), False
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def create_root_ca(
    key: PrivateKey,
    name: str,
    *,
    now: datetime | None = None,
    validity: timedelta | None = None,
    org_code: str = NATIONAL_ORG,
) -> x509.Certificate:
    """Create the self-signed national root CA certificate (path length 1).

    Valid from :data:`CLOCK_SKEW` before ``now`` (so a workspace whose clock is a little behind
    accepts it at once) until ``now`` plus ``validity``.
    """
    key_algorithm_of(key)
    start = _utc(now)
    subject = _subject(org_code, name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    lifetime = DEFAULT_VALIDITY.root_ca if validity is None else validity
    return _build(
        subject,
        key.public_key(),
        subject,
        key,
        ski,
        CertificateRole.ROOT_CA,
        start - CLOCK_SKEW,
        start + lifetime,
    )


def create_csr(
    key: PrivateKey, org_code: str, name: str, role: CertificateRole
) -> x509.CertificateSigningRequest:
    """Create a CSR for ``org_code``; the requested role travels as BasicConstraints/KeyUsage."""
    key_algorithm_of(key)
    if role is CertificateRole.ROOT_CA:
        raise PolicyViolation("a root CA is self-signed with create_root_ca, not requested by CSR")
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(org_code, name))
        .add_extension(x509.BasicConstraints(ca=role.is_ca, path_length=role.path_length), True)
        .add_extension(_key_usage(role), critical=True)
        .sign(key, hashes.SHA256())
    )


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    csr: x509.CertificateSigningRequest,
    role: CertificateRole,
    *,
    requester_upstream: str | None,
    now: datetime | None = None,
    validity: timedelta | None = None,
) -> x509.Certificate:
    """Issue a certificate of ``role`` for ``csr`` after checking the tier policy.

    ``requester_upstream`` is the requesting organisation's upstream as the caller's org rules
    compute it (``None`` for the national federation, which has none). Refused with
    :class:`PolicyViolation`: a bad CSR signature or key, an org code that is not six digits, a
    requester whose upstream is not this CA's org (unless it is the CA's own signing certificate),
    a role the issuing tier may not grant, a role different from the one the CSR asks for, and an
    issuing certificate that is not a valid CA at ``now``.

    Validity starts :data:`CLOCK_SKEW` before ``now``, since the requester checks the new
    certificate against its own clock and one a little behind must not find it "not yet valid";
    it never starts before the CA's own. It ends ``validity`` after ``now``, capped at the CA's
    end, so a chain never outlives its issuer.
    """
    start = _utc(now)
    if not csr.is_signature_valid:
        raise PolicyViolation("the certificate request's signature does not verify")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise PolicyViolation("the request's key must be ECDSA P-256 or RSA-2048")
    try:
        key_algorithm_of(public_key)
    except KeyFileError as exc:
        raise PolicyViolation(f"the request's key is refused: {exc}") from None
    subject_org = _single_org_code(csr.subject, "the certificate request")
    subject_name = _name_from(csr.subject, "the certificate request")
    ca_org = org_code_of(ca_cert)
    ca_role = _issuing_role(ca_cert, ca_key, start)

    if role is CertificateRole.ROOT_CA:
        raise PolicyViolation("a root CA certificate cannot be issued, only self-signed")
    if _requested_ca(csr) != role.is_ca:
        wanted = "a CA" if _requested_ca(csr) else "a signing"
        raise PolicyViolation(f"the request asks for {wanted} certificate, not {role.value}")
    own = subject_org == ca_org
    if own and role is not CertificateRole.SIGNING:
        raise PolicyViolation(f"{ca_org} may only issue its own signing certificate, not a CA")
    if not own and requester_upstream != ca_org:
        raise PolicyViolation(
            f"{subject_org}'s upstream is {requester_upstream or 'none'}, not {ca_org}: "
            f"only its upstream's CA certifies it"
        )
    if ca_role is CertificateRole.ROOT_CA and not own and role is not CertificateRole.PROVINCIAL_CA:
        raise PolicyViolation(
            f"the root CA issues provincial CA certificates and the national signing certificate, "
            f"not a {role.value} certificate for {subject_org}"
        )
    if ca_role is CertificateRole.PROVINCIAL_CA and role is not CertificateRole.SIGNING:
        raise PolicyViolation(
            f"provincial CA {ca_org} has path length 0: it issues signing certificates only"
        )

    lifetime = DEFAULT_VALIDITY.for_role(role) if validity is None else validity
    if lifetime <= timedelta(0):
        raise PolicyViolation("a certificate's validity must be positive")
    begin = max(start - CLOCK_SKEW, ca_cert.not_valid_before_utc)
    end = min(start + lifetime, ca_cert.not_valid_after_utc)
    issuer_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return _build(
        _subject(subject_org, subject_name),
        public_key,
        ca_cert.subject,
        ca_key,
        issuer_ski,
        role,
        begin,
        end,
    )


def _requested_ca(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return bool(csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issuing_role(ca_cert: x509.Certificate, ca_key: PrivateKey, now: datetime) -> CertificateRole:
    if ca_cert.public_key() != ca_key.public_key():
        raise PolicyViolation("the CA key does not match the CA certificate")
    if not ca_cert.not_valid_before_utc <= now <= ca_cert.not_valid_after_utc:
        raise PolicyViolation(f"CA certificate of {org_code_of(ca_cert)} is not valid at {now}")
    role = role_of(ca_cert)
    if not role.is_ca:
        raise PolicyViolation(f"{org_code_of(ca_cert)}'s signing certificate cannot issue")
    return role


def _single_org_code(name: x509.Name, what: str) -> str:
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if len(values) != 1 or not isinstance(values[0].value, str):
        raise PolicyViolation(f"{what} must carry exactly one organizationIdentifier (org code)")
    return _check_org_code(values[0].value)


def _name_from(name: x509.Name, what: str) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = name.get_attributes_for_oid(oid)
        if values and isinstance(values[0].value, str):
            return values[0].value
    raise PolicyViolation(f"{what} carries no organisation name")


def org_code_of(cert: x509.Certificate) -> str:
    """The six-digit org code in the subject's ``organizationIdentifier``."""
    try:
        return _single_org_code(cert.subject, "a certificate")
    except PolicyViolation as exc:
        raise UntrustedCertificate(f"{exc} (subject {cert.subject.rfc4514_string()})") from None


def name_of(cert: x509.Certificate) -> str:
    """The organisation's full name (subject ``O``, else ``CN``)."""
    try:
        return _name_from(cert.subject, "a certificate")
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
    moment = _utc(now)
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
