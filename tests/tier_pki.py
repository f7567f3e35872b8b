"""A three-tier PKI for ledger and CLI-free tests: root → 宁夏 CA → signing certificates of
000000, 640000, 640100, 640104 and 650000's CA for a wrong-province case. Built once."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509

from receipts.domain.divisions import upstream_of
from receipts.pki.signer import ReceiptSigner
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.keys import PrivateKey, generate_key
from signing.trust import ChainValidator, TrustBundle

__all__ = ["TierPki", "tier_pki"]


@dataclass(frozen=True)
class TierPki:
    root: x509.Certificate
    root_key: PrivateKey
    prov_ca: x509.Certificate
    prov_ca_key: PrivateKey
    signers: dict[str, ReceiptSigner]
    bundle: TrustBundle

    def validator(self) -> ChainValidator:
        return ChainValidator(self.bundle)


@functools.cache
def tier_pki() -> TierPki:
    # Far enough back that tests can issue receipts dated in earlier months (closed periods).
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
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
