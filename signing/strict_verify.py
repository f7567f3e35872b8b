"""The strict-profile verifier: digests and signature value of our one signature shape, checked
directly (docs/formats.md, "XML signature profile"; docs/security.md, "The strict verifier").

:func:`signing.xmldsig.verify_enveloped` calls :func:`check_signature` after
:func:`signing.xmlprofile.inspect_signature` admitted the shape and the certificate chain was
validated as of the signing time; this module replaces only signxml's digest and signature walk.
Canonicalisation is lxml's, digests SHA-256 (hashlib), signatures cryptography's.

What it refuses beyond the shape check, because a verifier could read it otherwise than another
(each found by tests/test_strict_differential.py or written down there):

- a processing instruction outside the root element: ``URI=""`` covers it for xmlsec1 (the whole
  document) and not for signxml (the root element);
- an ``xml:`` attribute on the root, the signature, its Object or QualifyingProperties: C14N 1.0
  gives it to the canonical form of the signed parts below them in xmlsec1, not in lxml;
- a comment or processing instruction anywhere inside ``ds:Signature``: it splits an element's
  text, which verifiers read differently (lxml's ``.text`` stops at it); and text other than
  whitespace between the signature's elements (signxml fails on text after a referenced one);
- children of algorithm elements (``InclusiveNamespaces``, XPath, …), anything in a Reference
  but ``Transforms``, ``DigestMethod``, ``DigestValue`` in that order, attributes we never write on
  the signature's unsigned parts, and a reference to SignedProperties or KeyInfo by any attribute
  but their ``Id``;
- base64 values with characters outside the alphabet (signxml drops them before decoding);
- element or attribute names outside ASCII (signxml's copies of the tree cannot be read back).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from signing.result import Finding, FindingCode, SignedDocument
from signing.strict_common import (
    C14N_10,
    ECDSA_SHA256,
    ECDSA_WITH_SHA256,
    RSA_SHA256,
    XML_NS,
    b64_value,
    c14n,
    certificate_key,
    ecdsa_der,
    non_ascii_name,
    sha256,
)
from signing.strict_shape import StrictParts, StrictShape
from signing.xmlprofile import (
    DIGEST_SHA256,
    DS_NS,
    ENVELOPED,
    SIGNED_PROPERTIES_TYPE,
    XADES_NS,
    SignatureShape,
)

__all__ = ["check_signature", "detached_document"]

_XML_ATTRIBUTE = f"{{{XML_NS}}}"
_REFERENCE_PARTS = (
    [f"{{{DS_NS}}}Transforms", f"{{{DS_NS}}}DigestMethod", f"{{{DS_NS}}}DigestValue"],
    [f"{{{DS_NS}}}DigestMethod", f"{{{DS_NS}}}DigestValue"],
)
# Text beside elements (a tail, or text in an element that holds elements): our signer writes
# whitespace there at most, and signxml fails on text after a referenced element (it copies the
# element with its tail and cannot parse the copy).
_MIXED_TEXT = etree.XPath(".//text()[normalize-space()][../*]")
_DOCTYPE = b"<!DOCTYPE"
_CERT_DIGEST = [f"{{{DS_NS}}}DigestMethod", f"{{{DS_NS}}}DigestValue"]


class _Refused(Exception):
    def __init__(self, code: FindingCode, message: str) -> None:
        super().__init__(message)
        self.finding = Finding.of(code, message)


def _malformed(message: str) -> _Refused:
    return _Refused(FindingCode.MALFORMED_SIGNATURE, message)


def _wrapping(message: str) -> _Refused:
    return _Refused(FindingCode.SIGNATURE_WRAPPING, message)


def check_signature(
    root: etree._Element, shape: SignatureShape, leaf: x509.Certificate, source: bytes = b""
) -> tuple[SignedDocument | None, list[Finding]]:
    """Check the signature value with ``leaf``'s key (already validated), every reference's
    digest, the signing-certificate digests and the signed SigningTime.

    Returns the signed document as signxml does (the canonical form of the root without the
    signature: no comments, nothing unsigned; parsed when a caller reads its tree) and no
    finding, or None and the first finding. ``root`` is given back as it came (the signature
    is detached while the document is canonicalised, and put back). ``source``, the bytes
    ``root`` was parsed from, only makes a check faster; so does a :class:`StrictShape` (from
    :func:`signing.strict_shape.inspect_strict`), whose walk made the structural checks.
    """
    encoding = root.getroottree().docinfo.encoding or ""
    utf8 = source if encoding.upper() == "UTF-8" else None
    try:
        return _check(root, shape, leaf, utf8 or None), []
    except _Refused as refused:
        return None, [refused.finding]


def _check(
    root: etree._Element, shape: SignatureShape, leaf: x509.Certificate, utf8: bytes | None
) -> SignedDocument:
    signature = shape.signature
    _outside(root, utf8)
    walked = shape.parts if isinstance(shape, StrictShape) else None
    parts: StrictParts = _parts(root, signature) if walked is None else walked
    signed_info = parts.signed_info
    algorithm = signed_info[0].get("Algorithm", "")
    _check_value(parts.value, c14n(signed_info, algorithm), leaf, shape.signature_method)
    document: bytes | None = None
    for index, reference in enumerate(list(signed_info)[2:]):
        if walked is None:
            transforms, _method, digest_value = _reference_parts(reference)
        else:  # the walk found our three references, the document's first
            transforms = [ENVELOPED, reference[0][1].get("Algorithm", "")] if index == 0 else []
            digest_value = reference[-1]
        if index == shape.data_reference_index:
            document = _document_c14n(root, signature, transforms[1])
            payload = document
        else:
            target = _target(reference, parts)
            payload = c14n(target, transforms[0] if transforms else C14N_10)
        expected = b64_value(digest_value.text)
        if expected is None or sha256(payload) != expected:
            raise _Refused(FindingCode.DIGEST_MISMATCH, _what_changed(index, reference, shape))
    _check_certificate_digests(parts.signed_properties, shape)
    signing_time = parts.signed_properties[0][0]
    if signing_time.text != shape.signing_time_text:
        raise _wrapping("the signed SigningTime is not the one the signature shows")
    if document is None:  # inspect_signature guarantees the data reference
        raise _wrapping('the signature does not cover the whole document (no URI="" reference)')
    if document.find(_DOCTYPE) != -1:  # find: see signing.strict_common.non_ascii_name
        # Only a processing instruction inside the root can carry these bytes into the
        # canonical form; parse_untrusted would refuse it when a caller reads the tree.
        message = "a DOCTYPE in the canonical form (XML with a DOCTYPE is refused)"
        raise _malformed(f"the signed document cannot be read back: {message}")
    return SignedDocument(data=document)


def _outside(root: etree._Element, utf8: bytes | None) -> None:
    """What is refused outside the signature: a processing instruction beside the root, xml:
    attributes on the root, names outside ASCII."""
    for outside in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(outside, etree._ProcessingInstruction):
            raise _wrapping(
                "a processing instruction outside the root element is refused (verifiers "
                'disagree whether URI="" covers it)'
            )
    if any(str(name).startswith(_XML_ATTRIBUTE) for name in root.attrib):
        raise _malformed(
            f"an xml: attribute on {etree.QName(root).localname} is refused "
            "(canonicalisation of the signed parts below it differs between verifiers)"
        )
    odd = non_ascii_name(root, utf8)
    if odd is not None:
        raise _malformed(
            f"element and attribute names and processing instructions must be ASCII, not {odd!r}"
        )


def _parts(root: etree._Element, signature: etree._Element) -> StrictParts:
    for text in _MIXED_TEXT(signature):  # type: ignore[union-attr]
        raise _malformed(
            f"text {str(text).strip()[:20]!r} between the signature's elements is refused"
        )
    for node in signature.iter(etree.Comment, etree.ProcessingInstruction):
        raise _malformed(
            f"line {node.sourceline}: a comment or processing instruction inside the signature "
            "is refused"
        )
    signed_info, value, key_info, ds_object = signature
    qualifying = ds_object[0]
    for holder, allowed in (
        (signature, {"Id"}),
        (value, set()),
        (ds_object, set()),
        (qualifying, {"Target"}),
    ):
        names = {str(name) for name in holder.attrib}
        if any(name.startswith(_XML_ATTRIBUTE) for name in names):
            raise _malformed(
                f"an xml: attribute on {etree.QName(holder).localname} is refused "
                "(canonicalisation of the signed parts below it differs between verifiers)"
            )
        if not names <= allowed:
            raise _malformed(
                f"{etree.QName(holder).localname} carries attributes we never write: "
                f"{', '.join(sorted(names - allowed))}"
            )
    for method in (signed_info[0], signed_info[1]):
        if len(method):
            raise _malformed(f"{etree.QName(method).localname} must be empty")
    return StrictParts(signed_info, value, key_info, qualifying[0])


def _check_value(
    value: etree._Element, signed_info: bytes, leaf: x509.Certificate, method: str
) -> None:
    raw = b64_value(value.text)
    bad = "the signature value does not verify with the signing certificate's key"
    if raw is None:
        raise _Refused(FindingCode.SIGNATURE_INVALID, f"{bad} (it is not base64)")
    key = certificate_key(leaf)
    try:
        if method == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey):
            der = ecdsa_der(raw, key.curve.key_size)
            if der is None:
                raise _Refused(FindingCode.SIGNATURE_INVALID, f"{bad} (not r and s of the curve)")
            key.verify(der, signed_info, ECDSA_WITH_SHA256)
        elif method == RSA_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, signed_info, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise _malformed(f"the signature method {method} does not fit the certificate's key")
    except InvalidSignature:
        raise _Refused(FindingCode.SIGNATURE_INVALID, bad) from None


def _reference_parts(
    reference: etree._Element,
) -> tuple[list[str], etree._Element, etree._Element]:
    children = list(reference)
    if [child.tag for child in children] not in _REFERENCE_PARTS:
        raise _malformed("a Reference must hold Transforms, DigestMethod and DigestValue only")
    transforms: list[str] = []
    if len(children) == 3:
        for transform in children[0]:
            if len(transform):
                raise _malformed("a Transform must be empty (no XPath, no InclusiveNamespaces)")
            transforms.append(transform.get("Algorithm", ""))
    digest_method, digest_value = children[-2:]
    if len(digest_method) or len(digest_value):
        raise _malformed("DigestMethod and DigestValue hold no elements")
    return transforms, digest_method, digest_value


def _target(reference: etree._Element, parts: StrictParts) -> etree._Element:
    uri = reference.get("URI")
    properties = parts.signed_properties
    if reference.get("Type") == SIGNED_PROPERTIES_TYPE and uri == f"#{properties.get('Id')}":
        return properties
    if reference.get("Type") is None and uri == f"#{parts.key_info.get('Id')}":
        return parts.key_info
    raise _wrapping(
        f"reference {uri!r} must name the signature's SignedProperties or KeyInfo by its Id"
    )


def _document_c14n(root: etree._Element, signature: etree._Element, algorithm: str) -> bytes:
    """The enveloped-signature transform, then ``algorithm``: the root without the signature.

    lxml moves an element's tail with it; the transform removes the element only, so the tail
    text stays where it was (as signxml's ``_remove_sig`` does)."""
    tail, previous, index = signature.tail, signature.getprevious(), root.index(signature)
    before = root.text if previous is None else previous.tail
    if tail:
        joined = (before or "") + tail
        if previous is None:
            root.text = joined
        else:
            previous.tail = joined
    signature.tail = None
    root.remove(signature)
    try:
        # The document, not the root element: lxml canonicalises a root element that has
        # siblings (a comment after it) through a stand-in document and then writes xmlns=""
        # on its children; the document's canonical form drops the comments, as C14N says.
        return c14n(root.getroottree(), algorithm)
    finally:
        if previous is None:
            root.text = before
        else:
            previous.tail = before
        root.insert(index, signature)
        signature.tail = tail


def detached_document(root: etree._Element, signature: etree._Element) -> etree._Element | None:
    """``root`` as the signed document, for a caller that parsed it, verified it and has done
    with it: the signature taken out as the enveloped-signature transform takes it (its tail
    text stays where it was, as in :func:`_document_c14n`). Its tree is then the canonical
    form's, parsed, but for what C14N rewrites and no reader sees (attribute order, where
    namespaces are declared, character references; its elements keep the lines of the file
    they were read from): a receipt is read from it without parsing its canonical bytes again
    (~25 µs a receipt, 3% of an import worker's verification; issue 19).

    None, and ``root`` untouched, when the tree holds what the canonical form leaves out: a
    comment inside the root (it splits an element's text, which lxml's ``.text`` stops at) or
    anything beside the root element. The caller then parses the canonical bytes."""
    if root.getprevious() is not None or root.getnext() is not None:
        return None
    if next(root.iter(etree.Comment), None) is not None:  # the filter runs in C
        return None
    tail, previous = signature.tail, signature.getprevious()
    if tail:
        if previous is None:
            root.text = (root.text or "") + tail
        else:
            previous.tail = (previous.tail or "") + tail
    signature.tail = None
    root.remove(signature)
    return root


def _check_certificate_digests(signed_properties: etree._Element, shape: SignatureShape) -> None:
    """signxml's SigningCertificateV2 check: each Cert's digest is one of KeyInfo's certificates,
    the first the signing certificate's; here only SHA-256 and exactly CertDigest."""
    holder = signed_properties[0][1]
    digests = [_certificate_digest(text) for text in shape.certificates_b64]
    certs = list(holder)
    if not certs or holder.attrib:
        raise _malformed("SigningCertificateV2 must name the signing certificate")
    for position, cert in enumerate(certs):
        cert_digest = cert[0] if len(cert) == 1 else None
        if (
            cert.tag != f"{{{XADES_NS}}}Cert"
            or cert_digest is None
            or cert_digest.tag != f"{{{XADES_NS}}}CertDigest"
            or [part.tag for part in cert_digest] != _CERT_DIGEST
            or cert_digest[0].get("Algorithm") != DIGEST_SHA256
        ):
            raise _malformed("each SigningCertificateV2 Cert must be one SHA-256 CertDigest")
        value = b64_value(cert_digest[1].text)
        if value not in digests or (position == 0 and value != digests[0]):
            message = "Digest mismatch for signing certificate digest"
            raise _Refused(
                FindingCode.DIGEST_MISMATCH,
                f"the signature's signed properties were changed after signing ({message})",
            )


@lru_cache(maxsize=256)
def _certificate_digest(b64: str) -> bytes:
    # A batch repeats the same few certificates.
    return sha256(base64.b64decode(b64))


def _what_changed(index: int, reference: etree._Element, shape: SignatureShape) -> str:
    # The messages signing.xmldsig gives for signxml's digest mismatches.
    if index == shape.data_reference_index:
        return "the document was changed after it was signed (its digest does not match)"
    detail = f"Digest mismatch for reference {index} ({reference.get('URI')})"
    return f"the signature's signed properties were changed after signing ({detail})"
