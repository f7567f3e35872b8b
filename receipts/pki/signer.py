"""A federation's signing identity, loaded once: seals and signs receipts, signs documents and
chain heads. The key stays in memory for a whole batch (loading it is the slow part)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from receipts.domain.model import QRSeal, Receipt
from receipts.domain.xmlcodec import qr_payload, receipt_to_element, serialize
from signing.certificate_profile import key_id, org_code_of
from signing.keys import PrivateKey
from signing.seal import sign_seal
from signing.xmldsig import sign_enveloped

__all__ = ["ReceiptSigner"]


@dataclass(frozen=True)
class ReceiptSigner:
    """A signing key with its certificate and the intermediate CA that certified it."""

    key: PrivateKey
    """The federation's signing key (never a CA key)."""
    certificate: x509.Certificate
    """Its signing certificate."""
    intermediates: tuple[x509.Certificate, ...]
    """The CA certificates between it and the root (the root itself is not included)."""

    @property
    def org_code(self) -> str:
        """The org code the certificate was issued to."""
        return org_code_of(self.certificate)

    @property
    def key_id(self) -> str:
        """First 8 hex digits of the certificate's SKI (the QR seal's key id)."""
        return key_id(self.certificate)

    @property
    def certificate_pem(self) -> bytes:
        """The signing certificate, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> str:
        """A deterministic signature of ``message`` (chain heads, QR seals), base64url."""
        return sign_seal(self.key, message)

    def seal(self, receipt: Receipt) -> Receipt:
        """The receipt with its QR seal (docs/formats.md), signed before the XML signature."""
        kid = self.key_id
        value = self.sign(qr_payload(receipt, kid))
        return dataclasses.replace(receipt, seal=QRSeal(kid, value))

    def sign_receipt(self, receipt: Receipt) -> bytes:
        """Seal, build and sign: the receipt's XML bytes exactly as they will be stored."""
        return self.sign_document(receipt_to_element(self.seal(receipt)), receipt.issued_at)

    def sign_document(self, root: etree._Element, at: datetime) -> bytes:
        """Sign any of our documents (receipt, allocation, manifest) with SigningTime ``at``.

        The document is indented first, so the signed bytes are readable and the indentation is
        part of what is signed (never re-indented afterwards).
        """
        etree.indent(root)
        signed = sign_enveloped(root, self.key, self.certificate, self.intermediates, at)
        return serialize(signed)
