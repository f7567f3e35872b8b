"""A payer workspace's ledger key: it signs the payer's chain heads.

A payer (an employer's finance office, a grassroots union) has no certificate in the federations'
PKI; its ledger is still tamper-evident: at ``receipts init --payer`` it gets its own key and a
self-signed certificate naming its USCC, and every transaction signs the chain head with it
(``receipts audit`` checks them), exactly as a federation's signing key does for its ledger.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from receipts.pki.keyfile import save_key
from receipts.support.atomic import write_atomic
from signing.keys import PrivateKey, check_new_passphrase, generate_key
from signing.seal import sign_seal

__all__ = ["LedgerKeySigner", "create_ledger_key", "identifier_of", "load_ledger_key"]

#: The ledger certificate outlives the records it protects (accounting records: 30 years).
_VALIDITY = timedelta(days=366 * 40)


def identifier_of(cert: x509.Certificate) -> str | None:
    """The subject's organizationIdentifier (an org code, or a payer's USCC), if exactly one."""
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    return values[0].value


@dataclass(frozen=True)
class LedgerKeySigner:
    """Signs chain heads with the payer's ledger key (a ``HeadSigner``)."""

    key: PrivateKey
    """The ledger key."""
    certificate: x509.Certificate
    """Its self-signed certificate."""

    @property
    def org_code(self) -> str:
        """Whose ledger: the payer's USCC."""
        identifier = identifier_of(self.certificate)
        assert identifier is not None  # we wrote it
        return identifier

    @functools.cached_property
    def certificate_pem(self) -> bytes:
        """The certificate, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> str:
        """A deterministic signature of ``message``, base64url."""
        return sign_seal(self.key, message)


def create_ledger_key(
    key_path: Path, cert_path: Path, uscc: str, name: str, passphrase: str
) -> LedgerKeySigner:
    """Generate the payer's ledger key and its self-signed certificate; the passphrase must pass
    the policy for new keys (not the payer's USCC or name)."""
    check_new_passphrase(passphrase, refuse=(uscc, name))
    key = generate_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, uscc),
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    save_key(key, key_path, passphrase, refuse=(uscc, name))
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return LedgerKeySigner(key, cert)


def load_ledger_key(key: PrivateKey, cert_path: Path) -> LedgerKeySigner:
    """The payer's ledger signer: its key, loaded by the caller
    (:meth:`receipts.pki.credentials.Credentials.load_key`: permissions checked, once per
    command), and its certificate."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return LedgerKeySigner(key, cert)
