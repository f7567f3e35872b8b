"""Enveloped XAdES-BES signatures over whole XML documents: sign, and verify as of signing time.

Signing uses signxml's ``XAdESSigner``: ``URI=""`` (the root has no Id), ECDSA-SHA256 (or
RSA-SHA256 for an RSA key), SHA-256 digests, inclusive C14N 1.0 (the XML-DSig default, so the
XAdES references signxml writes without Transforms mean the same to every verifier), and a
KeyInfo with the signing certificate and its intermediate, not the root.

**SigningTime** is the caller's ``signing_time`` (the receipt's issue time), written verbatim
with its UTC offset: signxml writes ``datetime.now()`` in ``XAdESSigner.add_signing_time``, an
annotator it calls while building SignedProperties, so :class:`_TimedSigner` overrides it.

Verification (:func:`verify_enveloped`) first checks that the signature has exactly our shape
(:mod:`signing.xmlprofile`), validates the certificate chain *as of the signing time* with a
:class:`~signing.trust.ChainValidator`, and only then lets signxml check digests and the
signature against that already-validated certificate. No canonicalisation or reference
resolution is written here. signxml's XSD validation of the signature is skipped: the shape
check admits only the exact elements we write, which is narrower than the schemas.

The caller loads its key once and passes it to every :func:`sign_enveloped` call.

**Engines.** Both functions run the strict-profile code by default (:mod:`signing.strict_sign`,
:mod:`signing.strict_verify`: the same shape, check and output without signxml's general
machinery); ``engine="signxml"`` (or ``RECEIPTS_XMLDSIG_ENGINE=signxml`` in the environment) runs
signxml, the reference the differential tests compare against (docs/security.md).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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
from signxml.xades.xades import (
    XAdESDataObjectFormat,
    XAdESSignatureConfiguration,
    XAdESSigner,
    XAdESVerifier,
)

from signing.certificate_profile import org_code_of
from signing.errors import InvalidSignature, SigningError
from signing.keys import PrivateKey
from signing.result import Finding, FindingCode, VerificationResult
from signing.strict_sign import check_signable, sign_strict
from signing.strict_verify import check_signature
from signing.trust import ChainValidator
from signing.xmlparse import MAX_XML_BYTES, UnsafeXML, parse_untrusted
from signing.xmlprofile import XADES_NS, SignatureShape, inspect_signature

__all__ = [
    "C14N_METHOD",
    "ENGINE_ENV",
    "FUTURE_TOLERANCE",
    "Engine",
    "raise_for",
    "sign_enveloped",
    "verify_enveloped",
]

#: Canonicalisation for SignedInfo and every reference.
C14N_METHOD = CanonicalizationMethod.CANONICAL_XML_1_0
#: A claimed signing time this far after the verifier's clock is still accepted (clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: The environment variable that picks the engine when a call does not.
ENGINE_ENV = "RECEIPTS_XMLDSIG_ENGINE"
Engine = Literal["strict", "signxml"]
_DATA_OBJECT_FORMAT = XAdESDataObjectFormat(Description="Signed XML document", MimeType="text/xml")


class _TimedSigner(XAdESSigner):
    """signxml's XAdES signer with a caller-given SigningTime (signxml writes the clock's)."""

    def __init__(self, signing_time_text: str, **kwargs: Any) -> None:
        super().__init__(data_object_format=_DATA_OBJECT_FORMAT, **kwargs)
        self._signing_time_text = signing_time_text

    def add_signing_time(
        self,
        signed_signature_properties: etree._Element,
        sig_root: etree._Element,
        signing_settings: Any,
    ) -> None:
        node = etree.SubElement(
            signed_signature_properties, f"{{{XADES_NS}}}SigningTime", nsmap=self.namespaces
        )
        node.text = self._signing_time_text


def _engine(engine: Engine | None) -> Engine:
    chosen = engine or os.environ.get(ENGINE_ENV) or "strict"
    if chosen not in ("strict", "signxml"):
        raise ValueError(f"{ENGINE_ENV} must be strict or signxml, not {chosen!r}")
    return "signxml" if chosen == "signxml" else "strict"


def _signature_method(key: PrivateKey) -> SignatureMethod:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    raise SigningError(f"cannot sign with a {type(key).__name__}")


def sign_enveloped(
    root: etree._Element,
    key: PrivateKey,
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    signing_time: datetime,
    *,
    engine: Engine | None = None,
) -> etree._Element:
    """Return a signed copy of ``root`` with an enveloped XAdES-BES signature as its last child.

    ``signing_time`` becomes the XAdES SigningTime exactly (it must carry a UTC offset and whole
    seconds). ``intermediates`` go into KeyInfo after ``cert``; never pass the root.
    """
    if _engine(engine) == "strict":
        return sign_strict(root, key, cert, intermediates, signing_time)
    check_signable(root, key, cert, signing_time)
    signer = _TimedSigner(
        signing_time.isoformat(),
        signature_algorithm=_signature_method(key),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=C14N_METHOD,
    )
    signed: etree._Element = signer.sign(
        root, key=key, cert=[cert, *intermediates], always_add_key_value=False
    )
    return signed


@lru_cache(maxsize=1024)
def _certificate(b64: str) -> x509.Certificate:
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
            _certificate("".join((cert.text or "").split()))
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


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _result(
    findings: list[Finding],
    signer: x509.Certificate | None = None,
    signing_time: datetime | None = None,
    signed_root: etree._Element | None = None,
) -> VerificationResult:
    valid = not findings and signed_root is not None
    return VerificationResult(
        valid, tuple(findings), signer, signing_time, signed_root if valid else None
    )


def verify_enveloped(
    data: bytes,
    validator: ChainValidator,
    *,
    expected_org: str | None,
    now: datetime | None = None,
    max_bytes: int = MAX_XML_BYTES,
    chain_time: datetime | None = None,
    engine: Engine | None = None,
) -> VerificationResult:
    """Verify one signed XML document; every problem found comes back as a finding.

    ``expected_org`` is the issuer's org code the signer must have (``None`` skips that check).
    ``max_bytes`` bounds the document (a receipt's 1,000,000 by default; a manifest that lists
    every receipt of a package or an archive is given more by its reader).
    The chain is validated as of the document's SigningTime, so a receipt signed while its
    certificate was valid still verifies after the certificate expires. ``now`` (default: the
    clock) only serves to refuse signing times in the future. ``chain_time``, when given, is
    the moment the chain is validated at instead: a verified signature time-stamp's
    (:mod:`signing.xades_t`), which the signer cannot choose. ``engine`` picks who checks the
    digests and the signature value (the module's docstring).
    """
    try:
        root = parse_untrusted(data, max_bytes=max_bytes)
    except UnsafeXML as exc:
        message = str(exc)
        malformed = message.startswith("malformed XML") or message.endswith("is empty")
        code = FindingCode.MALFORMED_XML if malformed else FindingCode.UNSAFE_XML
        return _result([Finding.of(code, message)])
    shape = inspect_signature(root)
    if isinstance(shape, Finding):
        return _result([shape])

    try:
        certs = [_certificate(text) for text in shape.certificates_b64]
    except ValueError as exc:
        unreadable = Finding.of(FindingCode.MALFORMED_SIGNATURE, f"unreadable certificate: {exc}")
        return _result([unreadable])
    leaf, intermediates = certs[0], certs[1:]
    signing_time = _parse_time(shape.signing_time_text)
    if signing_time is None:
        message = f"SigningTime {shape.signing_time_text!r} is not a date-time with a UTC offset"
        return _result([Finding.of(FindingCode.MALFORMED_SIGNATURE, message)], leaf)

    at = signing_time if chain_time is None else chain_time
    findings = list(validator.validate(leaf, intermediates, at=at).findings)
    clock = datetime.now(UTC) if now is None else now
    if signing_time > clock + FUTURE_TOLERANCE:
        findings.append(
            Finding.of(
                FindingCode.SIGNING_TIME_IN_FUTURE,
                f"the signing time {shape.signing_time_text} lies in the future",
            )
        )
    if expected_org is not None:
        findings.extend(_org_findings(leaf, expected_org))
    if _engine(engine) == "strict":
        signed_root, crypto = check_signature(root, shape, leaf, data)
    else:
        signed_root, crypto = _check_with_signxml(root, shape, leaf, signing_time)
    return _result(findings + crypto, leaf, signing_time, signed_root)


def _org_findings(leaf: x509.Certificate, expected_org: str) -> list[Finding]:
    try:
        org = org_code_of(leaf)
    except SigningError as exc:
        return [Finding.of(FindingCode.WRONG_SIGNER_ORG, str(exc))]
    if org == expected_org:
        return []
    return [
        Finding.of(
            FindingCode.WRONG_SIGNER_ORG,
            f"signed by {org}'s certificate, but the issuer is {expected_org}",
        )
    ]


def _check_with_signxml(
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


def raise_for(result: VerificationResult) -> None:
    """Raise :class:`InvalidSignature` with the first finding's message unless ``result`` is ok."""
    if not result.valid:
        first = result.findings[0] if result.findings else None
        raise InvalidSignature(first.message if first else "the signature is not valid")
