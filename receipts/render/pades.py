"""Optional PAdES B-B signature of a receipt PDF (pyHanko), so PDF readers show the signature.

The signature is an incremental update over the unsigned PDF, so the attached XML is inside the
signed revision. The update adds an invisible signature field and nothing else that shows:
verification refuses a signed update that changes anything more, the XMP and the document
information included (``receipts/verify/pdf_revisions.py``). It adds its own randomness
(pyHanko's ``/ID``, the signing time): only the unsigned PDF is deterministic. A
:class:`PdfSigner` converts the key and certificates once and keeps the loaded key, which
pyHanko's ``SimpleSigner`` would otherwise re-parse for every signature (measured: ~19 → ~37
signatures a second with ECDSA).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from receipts.render.errors import InvalidPDF, RenderError
from signing.keys import PrivateKey

__all__ = ["SIGNATURE_FIELD", "PdfSigner"]

#: Name of the (invisible) signature field.
SIGNATURE_FIELD = "Signature"
# Room for the CMS signature: certificates and an ECDSA or RSA-2048 signature fit in 8 KiB,
# and a fixed size avoids pyHanko's signing twice to measure it.
_BYTES_RESERVED = 8192
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class PdfSigner:
    """Signs PDFs with one key and certificate; build once, call :meth:`sign` many times."""

    def __init__(
        self, key: PrivateKey, cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> None:
        from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
        from asn1crypto import x509 as asn1_x509
        from pyhanko.sign import fields, signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        if cert.public_key() != key.public_key():
            raise RenderError("the PDF signing key does not match its certificate")

        def asn1(certificate: x509.Certificate) -> Any:
            return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))

        pkcs8 = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer_class = _signer_class()
        self._signer = signer_class(
            key,
            signing_cert=asn1(cert),
            signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [asn1(c) for c in chain]
            ),
        )
        self._metadata = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
        )

    def sign(self, pdf: bytes) -> bytes:
        """``pdf`` with a PAdES B-B signature appended as an incremental update."""
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.sign import signers

        try:
            writer = _writer_class()(io.BytesIO(pdf))
        except (PdfError, ValueError) as exc:
            raise InvalidPDF(f"cannot sign: the PDF cannot be read: {exc}") from None
        output = signers.sign_pdf(
            writer, self._metadata, signer=self._signer, bytes_reserved=_BYTES_RESERVED
        )
        return bytes(output.getvalue())


def _writer_class() -> type[Any]:
    """pyHanko's incremental writer, leaving the document information and XMP as rendered.

    pyHanko would stamp its own Producer into the XMP but append it to the Info dictionary's,
    so the two disagree (a PDF/A violation), and it rewrites the XMP. The signature dictionary
    carries the signing time (``/M``) anyway.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class MetadataKeepingWriter(IncrementalPdfFileWriter):
        def _update_meta(self) -> None:
            return None

    return MetadataKeepingWriter


def _signer_class() -> type[Any]:
    """A pyHanko ``SimpleSigner`` that signs with an already loaded cryptography key."""
    from pyhanko.sign.signers import SimpleSigner

    class KeptKeySigner(SimpleSigner):
        def __init__(self, key: PrivateKey, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._key = key

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            digest = _HASHES.get(digest_algorithm)
            if digest is None:
                raise RenderError(f"unsupported PDF signature digest {digest_algorithm}")
            if isinstance(self._key, ec.EllipticCurvePrivateKey):
                return self._key.sign(data, ec.ECDSA(digest))
            if isinstance(self._key, rsa.RSAPrivateKey):
                return self._key.sign(data, padding.PKCS1v15(), digest)
            raise RenderError(f"cannot sign a PDF with a {type(self._key).__name__}")

    return KeptKeySigner
