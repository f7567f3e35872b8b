"""The signing tests' PKI, built once per session (ECDSA keys are cheap).

National root (000000) → provincial CA 宁夏 (640000) → 银川 (640100) signing certificate, plus
the national federation's own signing certificate, an expired, an ended short-lived and a
revoked 640100 certificate, and a look-alike hierarchy under another root. Times are relative
to the real clock, so that outside tools (xmlsec1 checks certificates as of today) accept the
good chain.

Tests take it as the ``pki`` fixture (``tests/conftest.py``) or call :func:`build_pki`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from cryptography import x509
from lxml import etree

from receipts.domain.divisions import issuer_may_certify
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.crl import Revocation, RevocationReason, build_crl
from signing.keys import KeyAlgorithm, PrivateKey, generate_key
from signing.trust import ChainValidator, TrustBundle

__all__ = ["SHANGHAI", "Pki", "Signer", "build_pki", "sample_document"]

SHANGHAI = timezone(timedelta(hours=8))
ROOT_NAME = "中华全国总工会"


@dataclass(frozen=True)
class Signer:
    """A signing key with its certificate and the intermediates to put in KeyInfo."""

    key: PrivateKey
    cert: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class Pki:
    """Everything the signing tests need."""

    now: datetime
    root_key: PrivateKey
    root: x509.Certificate
    prov_key: PrivateKey
    prov: x509.Certificate
    city: Signer
    city_rsa: Signer
    national: Signer
    expired: Signer
    """640100 certificate valid from now-4y to now-1y."""
    short_lived: Signer
    """640100 certificate valid for 10 days, ended 20 days ago."""
    revoked: Signer
    """640100 certificate revoked at ``revoked_at``."""
    revoked_at: datetime
    crl: x509.CertificateRevocationList
    bundle: TrustBundle
    validator: ChainValidator
    foreign: Signer
    """A 640100 certificate under a look-alike root nobody trusts."""


def _issue(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    org: str,
    name: str,
    role: CertificateRole,
    upstream: str | None,
    now: datetime,
    validity: timedelta | None = None,
    algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256,
) -> tuple[PrivateKey, x509.Certificate]:
    key = generate_key(algorithm)
    csr = create_csr(key, org, name, role)
    cert = issue_certificate(
        ca_cert, ca_key, csr, role, requester_upstream=upstream, now=now, validity=validity
    )
    return key, cert


@dataclass(frozen=True)
class _Hierarchy:
    """A root and the 宁夏 provincial CA under it."""

    root_key: PrivateKey
    root: x509.Certificate
    prov_key: PrivateKey
    prov: x509.Certificate

    def city(self, at: datetime, validity: timedelta | None = None, rsa: bool = False) -> Signer:
        """A 640100 signing certificate from the provincial CA, valid from ``at``."""
        algorithm = KeyAlgorithm.RSA_2048 if rsa else KeyAlgorithm.ECDSA_P256
        key, cert = _issue(
            self.prov,
            self.prov_key,
            "640100",
            "银川市总工会",
            CertificateRole.SIGNING,
            "640000",
            at,
            validity,
            algorithm,
        )
        return Signer(key, cert, (self.prov,))


def _hierarchy(start: datetime) -> _Hierarchy:
    """A new root named like the national federation's, and a provincial CA under it."""
    root_key = generate_key()
    root = create_root_ca(root_key, ROOT_NAME, now=start)
    prov_key, prov = _issue(
        root,
        root_key,
        "640000",
        "宁夏回族自治区总工会",
        CertificateRole.PROVINCIAL_CA,
        "000000",
        start,
    )
    return _Hierarchy(root_key, root, prov_key, prov)


@functools.cache
def build_pki() -> Pki:
    """Build the test PKI (cached: every module and fixture shares one)."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5 * 365)
    recent = now - timedelta(days=400)
    tiers = _hierarchy(start)
    nat_key, nat = _issue(
        tiers.root, tiers.root_key, "000000", ROOT_NAME, CertificateRole.SIGNING, None, recent
    )
    revoked = tiers.city(recent)
    revoked_at = now - timedelta(days=30)
    crl = build_crl(
        tiers.prov,
        tiers.prov_key,
        [Revocation(revoked.cert.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE)],
        this_update=now - timedelta(days=1),
        next_update=now + timedelta(days=6),
    )
    good = tiers.city(recent)
    bundle = TrustBundle.of([tiers.root, tiers.prov, good.cert, nat], [crl])
    return Pki(
        now=now,
        root_key=tiers.root_key,
        root=tiers.root,
        prov_key=tiers.prov_key,
        prov=tiers.prov,
        city=good,
        city_rsa=tiers.city(recent, rsa=True),
        national=Signer(nat_key, nat, ()),
        expired=tiers.city(now - timedelta(days=4 * 365), timedelta(days=3 * 365)),
        short_lived=tiers.city(now - timedelta(days=30), timedelta(days=10)),
        revoked=revoked,
        revoked_at=revoked_at,
        crl=crl,
        bundle=bundle,
        validator=ChainValidator(bundle, issuer_may_certify=issuer_may_certify),
        # A look-alike hierarchy: same names, another root, trusted by nobody.
        foreign=_hierarchy(start).city(recent),
    )


def sample_document(amount: str = "12.50", payer: str = "某公司") -> etree._Element:
    """A generic document shaped like a small receipt (the receipt model lives elsewhere)."""
    return etree.fromstring(
        f'<Doc xmlns="urn:test"><Amount>{amount}</Amount><Payer>{payer}</Payer>'
        f"<Note>工会经费收入专用收据</Note></Doc>".encode()
    )
