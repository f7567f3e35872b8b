"""The cross-province attack of issue 14 (defect 4): with 640000's CA key, an insider certifies
650100 (issuance checks only the upstream it is told, so the key holder tells it 640000) and
signs a receipt as 650100. Verification must refuse it with ``certificate-outside-tier``.

Used by tests/test_tier_policy.py, and by tests/data/make_bad_corpus.py for the bad corpus's
files (:data:`FILES`), which tests/test_bad_corpus.py checks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from receipts.domain.enums import Tier
from receipts.domain.model import Organisation
from receipts.pki.signer import ReceiptSigner
from signing.certificate_profile import org_code_of
from signing.certificates import CertificateRole, create_csr, issue_certificate
from signing.keys import PrivateKey, generate_key
from signing.pem import certificates_to_pem
from tests.support.factories import SHANGHAI, make_receipt
from tests.support.tier_pki import tier_pki

__all__ = [
    "CERTIFICATE_FILE",
    "RECEIPT_FILE",
    "TRUST_FILE",
    "URUMQI",
    "certified",
    "cross_province",
    "urumqi_receipt",
    "write_corpus",
]

URUMQI = Organisation("650100", "乌鲁木齐市总工会", Tier.CITY)

#: The bad corpus's files, named for their fault.
CERTIFICATE_FILE = "cross-province-certificate.pem"
"""650100's signing certificate from 640000's CA, then that CA's certificate."""
RECEIPT_FILE = "receipt-under-cross-province-certificate.xml"
"""A receipt of issuer 650100 signed under :data:`CERTIFICATE_FILE`."""
TRUST_FILE = "cross-province-trust.pem"
"""The national trust those two are checked against: the root and the 640000 CA."""


def certified(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    org: str,
    role: CertificateRole = CertificateRole.SIGNING,
    chain: tuple[x509.Certificate, ...] = (),
) -> ReceiptSigner:
    """A certificate for ``org`` from ``ca``, issued by whoever holds ``ca_key`` and states the
    CA's own org as the requester's upstream (issuance believes it)."""
    key = generate_key()
    cert = issue_certificate(
        ca,
        ca_key,
        create_csr(key, org, f"{org}总工会", role),
        role,
        requester_upstream=org_code_of(ca),
        now=datetime.now(UTC) - timedelta(days=1),
    )
    return ReceiptSigner(key, cert, chain)


def cross_province() -> ReceiptSigner:
    """650100's signing certificate, certified with 640000's CA key (of the tier PKI)."""
    pki = tier_pki()
    return certified(pki.prov_ca, pki.prov_ca_key, "650100", chain=(pki.prov_ca,))


def urumqi_receipt(signer: ReceiptSigner) -> bytes:
    """A normal receipt of 650100, issued an hour ago, signed by ``signer``."""
    issued = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    receipt = make_receipt(code=f"657101{issued.year % 100:02d}", issuer=URUMQI, issued_at=issued)
    return signer.sign_receipt(receipt)


def write_corpus(folder: Path) -> int:
    """Write :data:`CERTIFICATE_FILE`, :data:`RECEIPT_FILE` and :data:`TRUST_FILE` into
    ``folder`` (a new PKI each time: rerun only to add cases); the number of files."""
    pki = tier_pki()
    signer = cross_province()
    (folder / CERTIFICATE_FILE).write_bytes(
        certificates_to_pem([signer.certificate, *signer.intermediates])
    )
    (folder / RECEIPT_FILE).write_bytes(urumqi_receipt(signer))
    (folder / TRUST_FILE).write_bytes(certificates_to_pem([pki.root, pki.prov_ca]))
    return 3
