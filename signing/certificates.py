"""Creating X.509 certificates for the federation tiers: the self-signed national root CA,
certificate requests, and issuance checked against the tier policy (docs/security.md).

What a certificate of each role holds, and reading one back, is
:mod:`signing.certificate_profile`. :class:`CertificateRole` and the PEM helpers of
:mod:`signing.pem`, which every caller of these functions uses with them, are importable from
here too.

Org rules (whose upstream a federation is) belong to ``receipts``: the caller passes the result in
(``requester_upstream``), so this module knows only codes and certificates.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.certificate_profile import (
    CLOCK_SKEW,
    DEFAULT_VALIDITY,
    NATIONAL_ORG,
    CertificateRole,
    org_code_in,
    org_code_of,
    org_name_in,
    role_of,
    tier_key_usage,
    tier_subject,
    utc_seconds,
)
from signing.errors import KeyFileError, PolicyViolation
from signing.keys import PrivateKey, key_algorithm_of
from signing.pem import (
    certificates_from_pem,
    certificates_to_pem,
    csr_from_pem,
    csr_to_pem,
    load_certificates,
)

__all__ = [
    "CertificateRole",
    "certificates_from_pem",
    "certificates_to_pem",
    "create_csr",
    "create_root_ca",
    "csr_from_pem",
    "csr_to_pem",
    "issue_certificate",
    "load_certificates",
]


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
        .add_extension(tier_key_usage(role), critical=True)
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
    start = utc_seconds(now)
    subject = tier_subject(org_code, name)
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
        .subject_name(tier_subject(org_code, name))
        .add_extension(x509.BasicConstraints(ca=role.is_ca, path_length=role.path_length), True)
        .add_extension(tier_key_usage(role), critical=True)
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
    start = utc_seconds(now)
    if not csr.is_signature_valid:
        raise PolicyViolation("the certificate request's signature does not verify")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise PolicyViolation("the request's key must be ECDSA P-256 or RSA-2048")
    try:
        key_algorithm_of(public_key)
    except KeyFileError as exc:
        raise PolicyViolation(f"the request's key is refused: {exc}") from None
    subject_org = org_code_in(csr.subject, "the certificate request")
    subject_name = org_name_in(csr.subject, "the certificate request")
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
        tier_subject(subject_org, subject_name),
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
