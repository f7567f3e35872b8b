"""The time-stamping certificate a CA issues to its own time-stamp authority (docs/security.md,
"Time-stamps").

It is a leaf of the CA's own organisation, like the CA's own signing certificate (so the tier
checks of :mod:`signing.trust` accept the link), with what RFC 3161 §2.3 requires: the
extended key usage ``id-kp-timeStamping`` alone, marked critical. Its KeyUsage is
digitalSignature and nonRepudiation. Receipt verification refuses a certificate carrying this
extended key usage as a document signer (:func:`signing.timestamps.is_time_stamping_certificate`),
so the TSA key, which sits on a network service, can never sign a receipt.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.certificate_profile import (
    CLOCK_SKEW,
    CertificateRole,
    org_code_of,
    role_of,
    tier_key_usage,
    utc_seconds,
)
from signing.errors import PolicyViolation
from signing.keys import PrivateKey, PublicKey, key_algorithm_of

__all__ = ["DEFAULT_TSA_VALIDITY", "issue_tsa_certificate"]

#: How long a TSA certificate is valid unless the caller says otherwise: 5 years. A token is
#: checked as of its own genTime, so tokens outlive the certificate that signed them.
DEFAULT_TSA_VALIDITY = timedelta(days=round(365.25 * 5))
_CN_MAX = 64


def _subject(ca_cert: x509.Certificate) -> x509.Name:
    org = org_code_of(ca_cert)
    names = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    name = str(names[0].value) if names else org
    common = f"{name} TSA"
    while len(common.encode("utf-8")) > _CN_MAX:
        name = name[:-1]
        common = f"{name} TSA"
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(names[0].value) if names else org),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def issue_tsa_certificate(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    tsa_key: PublicKey,
    *,
    now: datetime | None = None,
    validity: timedelta | None = None,
) -> x509.Certificate:
    """A time-stamping certificate for ``tsa_key``, issued by this CA to its own organisation.

    Refused (:class:`PolicyViolation`): a CA key that does not match the CA certificate, a
    certificate that is not a CA, or one that is not valid at ``now``. Validity starts
    :data:`CLOCK_SKEW` before ``now`` and ends ``validity`` later, capped at the CA's end.
    """
    start = utc_seconds(now)
    key_algorithm_of(tsa_key)
    if ca_cert.public_key() != ca_key.public_key():
        raise PolicyViolation("the CA key does not match the CA certificate")
    if not role_of(ca_cert).is_ca:
        raise PolicyViolation("only a CA issues a time-stamping certificate")
    if not ca_cert.not_valid_before_utc <= start <= ca_cert.not_valid_after_utc:
        raise PolicyViolation(f"the CA certificate is not valid at {start:%Y-%m-%dT%H:%M:%SZ}")
    lifetime = DEFAULT_TSA_VALIDITY if validity is None else validity
    if lifetime <= timedelta(0):
        raise PolicyViolation("a certificate's validity must be positive")
    issuer_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(ca_cert))
        .issuer_name(ca_cert.subject)
        .public_key(tsa_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(start - CLOCK_SKEW, ca_cert.not_valid_before_utc))
        .not_valid_after(min(start + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(tier_key_usage(CertificateRole.SIGNING), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), False
        )
    )
    return builder.sign(ca_key, hashes.SHA256())
