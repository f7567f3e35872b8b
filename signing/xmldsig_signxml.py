"""signxml's side of :mod:`signing.xmldsig`: the reference verifier (``engine="signxml"``, and
the differential tests' second opinion), with the few helpers both engines share.

Kept apart so that :mod:`signing.xmldsig` holds the profile's entry points and this module the
signxml machinery they fall back on (docs/security.md, "The strict verifier").
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.exceptions import InvalidDigest, InvalidInput, SignXMLException
from signxml.exceptions import InvalidSignature as SignXMLInvalidSignature
from signxml.verifier import VerifyResult
from signxml.xades.xades import XAdESSignatureConfiguration, XAdESVerifier

from signing.result import Finding, FindingCode
from signing.xmlprofile import XADES_NS, SignatureShape

__all__ = ["C14N_METHOD", "certificate_from_b64", "check_with_signxml", "parse_signing_time"]

#: Canonicalisation for SignedInfo and every reference.
C14N_METHOD = CanonicalizationMethod.CANONICAL_XML_1_0


@lru_cache(maxsize=1024)
def certificate_from_b64(b64: str) -> x509.Certificate:
    """The certificate of a KeyInfo X509Certificate text (cached: a batch repeats a few)."""
    # A batch repeats the same few certificates; parsing them once each saves real time.
    return x509.load_der_x509_certificate(base64.b64decode(b64, validate=True))


class _Verifier(XAdESVerifier):
    """signxml's XAdES verifier with four changes that save work and check the same things
    (together about a fifth of a verification; signxml 5.2's private methods, hence the pin):

    - it takes the tree parse_untrusted already made instead of parsing the bytes again;
    - the SignedProperties and KeyInfo references read that tree instead of a fresh copy;
    - the signing certificate's subject is rendered only when a validity message needs it;
    - the KeyInfo certificates in the signing-certificate digest check are loaded through
      :func:`_certificate`'s cache: signxml re-wraps each as PEM with ``textwrap`` and parses it
      again for every document (about 0.4 ms a receipt), while a batch repeats the same two.
    """

    def get_root(self, data: Any) -> Any:
        # The document arrives already parsed by parse_untrusted (hardened) and inspected; its
        # tree is only read here (signxml works on copies), so parsing it again is waste.
        if isinstance(data, etree._Element):
            return data
        parent: Any = super()
        return parent.get_root(data)

    def _get_cert_validity_error(self, cert: x509.Certificate, cert_source: str) -> str | None:
        # signxml renders the certificate's subject for its message before it knows whether
        # there is an error (a tenth of its work). We hand it a moment inside the signing
        # certificate's validity (the chain's times are ours), so there is none: render it only
        # then.
        me: Any = self
        moment = me._get_cert_verification_time()
        if cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            return None
        parent: Any = super()
        message: str | None = parent._get_cert_validity_error(cert, cert_source)
        return message

    def _verify_reference(
        self,
        reference: etree._Element,
        index: int,
        root: etree._Element,
        uri_resolver: Any,
        c14n_algorithm: Any,
        signature: etree._Element,
        signature_key_used: Any,
    ) -> Any:
        # signxml 5.2's method, with one change: it copies the whole document (serialise and
        # parse) for every reference, so that the enveloped-signature transform may cut the
        # signature out of the copy. inspect_signature admits that transform on the document
        # reference only; the SignedProperties and KeyInfo references read the original tree,
        # which nothing changes (their payload is copied again before canonicalisation).
        # That saves two of the three copies, a twentieth of a verification.
        me: Any = self
        transforms = me._find(reference, "Transforms", require=False)
        enveloped = transforms is not None and any(
            t.get("Algorithm") == SignatureConstructionMethod.enveloped.value
            for t in me._findall(transforms, "Transform")
        )
        tree = me._fromstring(me._tostring(root)) if enveloped else root
        signature_in_tree = me._get_signature(tree)
        digest_method_alg_name = me._find(reference, "DigestMethod").get("Algorithm")
        digest_value = me._find(reference, "DigestValue")
        payload = me._resolve_reference(tree, reference, uri_resolver=uri_resolver)
        payload_c14n = me._apply_transforms(
            payload, transforms_node=transforms, signature=signature_in_tree
        )
        digest_alg = DigestAlgorithm(digest_method_alg_name)
        me.check_digest_alg_expected(digest_alg)
        if base64.b64decode(digest_value.text) != me._get_digest(payload_c14n, digest_alg):
            raise InvalidDigest(f"Digest mismatch for reference {index} ({reference.get('URI')})")
        try:
            payload_c14n_xml = me._fromstring(payload_c14n)
        except etree.XMLSyntaxError:
            payload_c14n_xml = None
        if isinstance(signature_key_used, bytes):
            signature_key = signature_key_used
        else:
            signature_key = signature_key_used.public_bytes(
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
            )
        return VerifyResult(payload_c14n, payload_c14n_xml, signature, signature_key=signature_key)

    def _verify_cert_digests(self, verify_result: Any) -> None:
        me: Any = self  # signxml's helpers are untyped
        certs = [
            certificate_from_b64("".join((cert.text or "").split()))
            for x509_data in me._findall(verify_result.signature_xml, "ds:KeyInfo/ds:X509Data")
            for cert in me._findall(x509_data, "X509Certificate")
        ]
        signing_cert = me._find_signing_cert(verify_result, certs)
        if signing_cert is not None:
            me._add_cert_if_missing(certs, signing_cert)
        props = me._find(verify_result.signed_xml, "xades:SignedSignatureProperties")
        v1 = me._find(props, "xades:SigningCertificate", require=False)
        v2 = me._find(props, "xades:SigningCertificateV2", require=False)
        if (v1 is None) == (v2 is None):
            raise InvalidInput(
                "Expected to find exactly one of xades:SigningCertificate or "
                "xades:SigningCertificateV2"
            )
        me._verify_cert_digest(v1 if v1 is not None else v2, certs=certs, signing_cert=signing_cert)


def parse_signing_time(text: str) -> datetime | None:
    """An xs:dateTime with its offset (None: not one, or without an offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def check_with_signxml(
    root: etree._Element, shape: SignatureShape, leaf: x509.Certificate, signing_time: datetime
) -> tuple[etree._Element | None, list[Finding]]:
    """Let signxml verify digests and the signature value against ``leaf`` (already validated)."""
    # signxml re-checks the pinned certificate's validity at `verification_time`; the chain's
    # time checks are ours, so hand it a moment inside the leaf's window to avoid a duplicate.
    moment = min(
        max(signing_time.astimezone(UTC), leaf.not_valid_before_utc), leaf.not_valid_after_utc
    )
    config = XAdESSignatureConfiguration(
        location="./",
        expect_references=shape.reference_count,
        signature_methods=frozenset({SignatureMethod(shape.signature_method)}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        verification_time=moment,
        default_reference_c14n_method=C14N_METHOD,
    )
    try:
        # No XSD validation: inspect_signature already admitted only the exact element structure
        # we write, which is narrower than the XML-DSig/XAdES schemas, and the XSD pass cost 13%
        # of a verification.
        results = _Verifier().verify(
            root, x509_cert=leaf, expect_config=config, validate_schema=False
        )
    # InvalidDigest is a subclass of signxml's InvalidSignature: catch it first.
    except InvalidDigest as exc:
        return None, [Finding.of(FindingCode.DIGEST_MISMATCH, _what_changed(str(exc), shape))]
    except SignXMLInvalidSignature:
        bad = "the signature value does not verify with the signing certificate's key"
        return None, [Finding.of(FindingCode.SIGNATURE_INVALID, bad)]
    # XMLSyntaxError: signxml's own copy of a tree with a non-ASCII name cannot be read back.
    except (
        InvalidInput,
        SignXMLException,
        etree.DocumentInvalid,
        etree.XMLSyntaxError,
        ValueError,
    ) as exc:
        return None, [Finding.of(FindingCode.MALFORMED_SIGNATURE, f"signxml refused it: {exc}")]
    signed_root = results[shape.data_reference_index].signed_xml
    signed_times = [
        r.signed_properties.findtext(f"{{{XADES_NS}}}SigningTime")
        for r in results
        if hasattr(r, "signed_properties")
    ]
    if signed_times != [shape.signing_time_text] or signed_root is None:
        # The SigningTime we validated the chain at must be the one that was signed.
        return None, [
            Finding.of(
                FindingCode.SIGNATURE_WRAPPING,
                "the signed SigningTime is not the one the signature shows",
            )
        ]
    return signed_root, []


def _what_changed(message: str, shape: SignatureShape) -> str:
    # signxml says "Digest mismatch for reference N (URI)"; name the part in the reader's terms.
    found = re.search(r"reference (\d+)", message)
    if found and int(found.group(1)) == shape.data_reference_index:
        return "the document was changed after it was signed (its digest does not match)"
    return f"the signature's signed properties were changed after signing ({message})"
