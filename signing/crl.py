"""Certificate revocation lists: build them, and ask whether a certificate was revoked *at a time*.

Receipts are accounting records kept 30 years, long after their signing certificates expire or
are revoked. So revocation is judged at the receipt's signing time: a certificate revoked *at or
before* that time is revoked for that receipt; one revoked *later* still stands behind receipts
signed earlier. A CA that learns a key was compromised before the day it revoked the certificate
records the earlier moment as the entry's invalidity date (RFC 5280 §5.3.2), which then counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.certificate_profile import CLOCK_SKEW
from signing.errors import PolicyViolation, UntrustedCertificate
from signing.keys import PrivateKey
from signing.pem import crls_from_pem, crls_to_pem, load_crls

__all__ = [
    "Revocation",
    "RevocationReason",
    "build_crl",
    "crl_is_from",
    "crl_issuer",
    "crl_warnings",
    "crls_from_pem",
    "crls_to_pem",
    "find_revocation",
    "load_crls",
    "merge_crls",
    "revocation_at",
]


class RevocationReason(Enum):
    """Why a certificate was revoked (RFC 5280 CRLReason, the subset a federation uses)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key-compromise"
    CA_COMPROMISE = "ca-compromise"
    AFFILIATION_CHANGED = "affiliation-changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation-of-operation"

    @classmethod
    def _missing_(cls, value: object) -> RevocationReason:
        raise PolicyViolation(
            f"unknown revocation reason {value!r}; use one of: {', '.join(m.value for m in cls)}"
        )

    @property
    def flag(self) -> x509.ReasonFlags:
        """The matching :class:`x509.ReasonFlags`."""
        # Our member names are ReasonFlags' names in upper case.
        return x509.ReasonFlags[self.name.lower()]

    @classmethod
    def from_flag(cls, flag: x509.ReasonFlags) -> RevocationReason:
        """The reason for a CRL entry's flag; reasons we never issue read as UNSPECIFIED."""
        for reason in cls:
            if reason.flag is flag:
                return reason
        return cls.UNSPECIFIED


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate, as a CA records it and as a CRL entry reads back."""

    serial: int
    """The revoked certificate's serial number."""

    revoked_at: datetime
    """When the CA revoked it (the CRL entry's revocationDate), with a UTC offset."""

    reason: RevocationReason = RevocationReason.UNSPECIFIED
    """Why; carried as the entry's CRLReason extension unless UNSPECIFIED."""

    invalid_since: datetime | None = None
    """When the key is known or suspected to have become unsafe, if earlier than ``revoked_at``."""

    @property
    def effective_from(self) -> datetime:
        """From this moment on the certificate counts as revoked."""
        if self.invalid_since is not None and self.invalid_since < self.revoked_at:
            return self.invalid_since
        return self.revoked_at


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must carry a UTC offset (a naive datetime is ambiguous)")
    return moment.astimezone(UTC).replace(microsecond=0)


def build_crl(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[Revocation],
    this_update: datetime,
    next_update: datetime,
    *,
    number: int | None = None,
) -> x509.CertificateRevocationList:
    """Build and sign a CRL for ``ca_cert`` listing ``revoked``.

    ``number`` is the CRLNumber (RFC 5280 requires one, increasing); by default the Unix time of
    ``this_update``, which increases with every CRL a CA publishes.
    """
    start, end = _utc(this_update), _utc(next_update)
    if end <= start:
        raise PolicyViolation("a CRL's next update must come after its this update")
    if ca_cert.public_key() != ca_key.public_key():
        raise PolicyViolation("the CA key does not match the CA certificate")
    usage = ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    if not usage.crl_sign:
        raise PolicyViolation("this certificate may not sign CRLs (no cRLSign key usage)")
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(start)
        .next_update(end)
        .add_extension(x509.CRLNumber(int(start.timestamp()) if number is None else number), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    )
    for record in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(record.serial)
            .revocation_date(_utc(record.revoked_at))
        )
        if record.reason is not RevocationReason.UNSPECIFIED:
            entry = entry.add_extension(x509.CRLReason(record.reason.flag), False)
        if record.invalid_since is not None:
            entry = entry.add_extension(x509.InvalidityDate(_naive(record.invalid_since)), False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca_key, hashes.SHA256())


def _naive(moment: datetime) -> datetime:
    # x509.InvalidityDate takes a naive UTC datetime.
    return _utc(moment).replace(tzinfo=None)


def crl_is_from(crl: x509.CertificateRevocationList, ca_cert: x509.Certificate) -> bool:
    """Whether ``crl`` names ``ca_cert`` as issuer and its signature verifies with that CA's key."""
    if crl.issuer != ca_cert.subject:
        return False
    public_key = ca_cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return False
    return crl.is_signature_valid(public_key)


def crl_issuer(
    crl: x509.CertificateRevocationList,
    cas: Iterable[x509.Certificate],
    now: datetime,
) -> x509.Certificate:
    """The certificate among ``cas`` that issued ``crl``, or :class:`UntrustedCertificate`
    saying why none did.

    The CRL's issuer name must be the CA's subject, its authority key identifier (when present)
    the CA's key, its signature must verify with that key, and its thisUpdate may lie no more
    than :data:`~signing.certificate_profile.CLOCK_SKEW` after ``now`` (a CRL "from the future"
    would outrank every genuine one).
    """
    label = crl.issuer.rfc4514_string()
    named = [ca for ca in cas if ca.subject == crl.issuer and _aki_matches(crl, ca)]
    if not named:
        raise UntrustedCertificate(f"the CRL of {label} names no CA this workspace trusts")
    issuer = next((ca for ca in named if crl_is_from(crl, ca)), None)
    if issuer is None:
        raise UntrustedCertificate(f"the CRL of {label} is not signed by the CA it names")
    if crl.last_update_utc > _utc(now) + CLOCK_SKEW:
        raise UntrustedCertificate(
            f"the CRL of {label} is dated {crl.last_update_utc:%Y-%m-%d %H:%M:%S}Z, in the future"
        )
    next_update = crl.next_update_utc
    if next_update is not None and next_update <= crl.last_update_utc:
        raise UntrustedCertificate(f"the CRL of {label} is due before it was issued")
    return issuer


def _aki_matches(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True  # matched by name and signature only
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True
    return aki.key_identifier is None or aki.key_identifier == ski.digest


def merge_crls(
    held: Iterable[x509.CertificateRevocationList],
    incoming: Iterable[x509.CertificateRevocationList],
    cas: Iterable[x509.Certificate],
    now: datetime,
) -> tuple[x509.CertificateRevocationList, ...]:
    """The CRLs to keep once ``incoming`` is merged into ``held``: one per CA key, the newest.

    Every incoming CRL must come from one of ``cas`` (:func:`crl_issuer`), else the first that
    does not is raised and nothing is merged. A CRL replaces the one held for the same CA key
    only if it is newer by both CRLNumber and thisUpdate, so a replayed or older CRL never
    undoes a revocation; the CA key (subject and key identifier of the CA certificate that
    verified it), not the CRL's own claims, says whose it is, because a renewed CA keeps its
    name and the old key's CRL must stay for what that key certified. A held CRL that no CA
    in ``cas`` signed is dropped: it counted for nothing and must not outrank a genuine one.
    """
    authorities = list(cas)
    arriving = [(crl, crl_issuer(crl, authorities, now)) for crl in incoming]
    kept: dict[tuple[bytes, bytes], x509.CertificateRevocationList] = {}
    for crl in held:
        ca = next((c for c in authorities if crl_is_from(crl, c)), None)
        if ca is not None:
            _keep_newer(kept, _ca_key(ca), crl)
    for crl, ca in arriving:
        _keep_newer(kept, _ca_key(ca), crl)
    return tuple(kept.values())


def _ca_key(ca: x509.Certificate) -> tuple[bytes, bytes]:
    # Computed from the key, so a CA certificate without a SubjectKeyIdentifier has one too.
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)  # crl_is_from
    return ca.subject.public_bytes(), x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def _keep_newer(
    kept: dict[tuple[bytes, bytes], x509.CertificateRevocationList],
    key: tuple[bytes, bytes],
    crl: x509.CertificateRevocationList,
) -> None:
    current = kept.get(key)
    if current is None:
        kept[key] = crl
        return
    number, held_number = _crl_number(crl), _crl_number(current)
    if (
        number >= held_number
        and crl.last_update_utc >= current.last_update_utc
        and (number, crl.last_update_utc) > (held_number, current.last_update_utc)
    ):
        kept[key] = crl


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return -1


def find_revocation(
    cert: x509.Certificate, issuer: x509.Certificate, crls: Iterable[x509.CertificateRevocationList]
) -> Revocation | None:
    """The earliest revocation of ``cert`` in those ``crls`` that ``issuer`` really signed.

    A CRL that is not signed by the certificate's issuer is ignored: it can neither revoke nor
    un-revoke anything. Several CRLs of one CA are read together (an entry in any counts).
    """
    found: Revocation | None = None
    for crl in crls:
        if not crl_is_from(crl, issuer):
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is None:
            continue
        record = _record(entry)
        if found is None or record.effective_from < found.effective_from:
            found = record
    return found


def _record(entry: x509.RevokedCertificate) -> Revocation:
    reason = RevocationReason.UNSPECIFIED
    invalid_since: datetime | None = None
    for ext in entry.extensions:
        if isinstance(ext.value, x509.CRLReason):
            reason = RevocationReason.from_flag(ext.value.reason)
        elif isinstance(ext.value, x509.InvalidityDate):
            invalid_since = ext.value.invalidity_date_utc
    return Revocation(entry.serial_number, entry.revocation_date_utc, reason, invalid_since)


def revocation_at(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crls: Iterable[x509.CertificateRevocationList],
    at: datetime,
) -> Revocation | None:
    """The revocation of ``cert`` if it took effect at or before ``at``, else ``None``."""
    record = find_revocation(cert, issuer, crls)
    if record is not None and record.effective_from <= _utc(at):
        return record
    return None


def crl_warnings(crls: Iterable[x509.CertificateRevocationList], now: datetime) -> list[str]:
    """One sentence per CRL whose next update has passed: a newer one should be fetched.

    A stale CRL still proves the revocations it lists; what it cannot show is a revocation
    published since, so a verifier relying on it should say so.
    """
    moment = _utc(now)
    warnings: list[str] = []
    for crl in crls:
        next_update = crl.next_update_utc
        if next_update is not None and next_update < moment:
            issuer = crl.issuer.rfc4514_string()
            warnings.append(f"the CRL of {issuer} was due for renewal on {next_update:%Y-%m-%d}")
    return warnings
