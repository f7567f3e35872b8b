"""A three-tier PKI for ledger, CLI and benchmark runs: a national root, the 宁夏 provincial CA
under it, and receipt signers of 000000 (under the root), 640000, 640100 and 640104 (under the
provincial CA). Built once per process.

Its certificates start on 1 December of the year before last (:func:`tier_pki_start`), not a
fixed number of days back: tests issue receipts dated anywhere in last year (closed periods, a
detached year), and a window of "N days back" drops last year's early months as the year goes
on. The receipt signers' three years then end at least 11 months after any day of the year."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from receipts.domain.divisions import issuer_may_certify, upstream_of
from receipts.pki.signer import ReceiptSigner
from signing.certificate_profile import DEFAULT_VALIDITY
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.keys import PrivateKey, generate_key
from signing.trust import ChainValidator, TrustBundle

__all__ = ["TierPki", "tier_pki", "tier_pki_start", "tier_signer_end"]


@dataclass(frozen=True)
class TierPki:
    """The root, the 宁夏 provincial CA and a receipt signer for each federation."""

    root: x509.Certificate
    """The national root CA (中华全国总工会)."""
    root_key: PrivateKey
    prov_ca: x509.Certificate
    """The 宁夏 provincial CA (640000)."""
    prov_ca_key: PrivateKey
    signers: dict[str, ReceiptSigner]
    """Federation code → its receipt signer (key, certificate, intermediates)."""
    bundle: TrustBundle
    """The root, the provincial CA and every signing certificate; no CRL."""

    def validator(self) -> ChainValidator:
        """A chain validator trusting the bundle."""
        return ChainValidator(self.bundle, issuer_may_certify=issuer_may_certify)


def tier_pki_start(now: datetime) -> datetime:
    """When the tier PKI built at ``now`` starts: 1 December of the year before last (UTC), a
    month before last year began in any time zone (Shanghai's 1 January is 16:00 UTC the day
    before)."""
    return datetime(now.astimezone(UTC).year - 2, 12, 1, tzinfo=UTC)


def tier_signer_end(now: datetime) -> datetime:
    """When the receipt signers of the tier PKI built at ``now`` expire (their default validity
    from :func:`tier_pki_start`; the CAs above them last longer)."""
    return tier_pki_start(now) + DEFAULT_VALIDITY.signing


@functools.cache
def tier_pki() -> TierPki:
    """Build the tier PKI (cached: every test and benchmark in a process shares one)."""
    start = tier_pki_start(datetime.now(UTC))
    root_key = generate_key()
    root = create_root_ca(root_key, "中华全国总工会", now=start)

    def issue(
        ca: x509.Certificate, ca_key: PrivateKey, org: str, name: str, role: CertificateRole
    ) -> tuple[PrivateKey, x509.Certificate]:
        key = generate_key()
        cert = issue_certificate(
            ca,
            ca_key,
            create_csr(key, org, name, role),
            role,
            requester_upstream=upstream_of(org),
            now=start,
        )
        return key, cert

    prov_key, prov = issue(
        root, root_key, "640000", "宁夏回族自治区总工会", CertificateRole.PROVINCIAL_CA
    )
    signers: dict[str, ReceiptSigner] = {}
    nat_key, nat = issue(root, root_key, "000000", "中华全国总工会", CertificateRole.SIGNING)
    signers["000000"] = ReceiptSigner(nat_key, nat, ())
    for org, name in (
        ("640000", "宁夏回族自治区总工会"),
        ("640100", "银川市总工会"),
        ("640104", "银川市兴庆区总工会"),
    ):
        key, cert = issue(prov, prov_key, org, name, CertificateRole.SIGNING)
        signers[org] = ReceiptSigner(key, cert, (prov,))
    bundle = TrustBundle.of([root, prov, *(s.certificate for s in signers.values())], [])
    return TierPki(root, root_key, prov, prov_key, signers, bundle)
