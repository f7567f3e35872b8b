"""The strict-profile signer: our one enveloped XAdES-BES signature shape, built directly
(docs/formats.md, "XML signature profile").

It writes, element for element and byte for byte, what signxml's ``XAdESSigner`` writes through
:func:`signing.xmldsig.sign_enveloped` (tests/test_strict_signing.py compares the two with the
same Ids; only the ECDSA SignatureValue differs, its nonce being random), without signxml's
general machinery: no copies of the tree per reference, no schema, no annotator walk.
Canonicalisation is lxml's, digests are SHA-256, the signature is cryptography's.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from lxml import etree

from signing.errors import SigningError
from signing.keys import PrivateKey
from signing.strict_common import (
    C14N_10,
    XML_NS,
    c14n,
    certificate_text,
    ecdsa_raw,
    sha256,
    signature_method_for,
)
from signing.xmlparse import parse_untrusted
from signing.xmlprofile import DIGEST_SHA256, DS_NS, ENVELOPED, SIGNED_PROPERTIES_TYPE, XADES_NS

__all__ = ["DATA_OBJECT_DESCRIPTION", "DATA_OBJECT_MIME_TYPE", "check_signable", "sign_strict"]

DATA_OBJECT_DESCRIPTION = "Signed XML document"
DATA_OBJECT_MIME_TYPE = "text/xml"
_NSMAP = {"ds": DS_NS, "xades": XADES_NS}


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def _xades(tag: str) -> str:
    return f"{{{XADES_NS}}}{tag}"


def _token() -> str:
    # signxml's Ids: 8 upper-case hex digits after a fixed prefix.
    return secrets.token_hex(4).upper()


def check_signable(
    root: etree._Element, key: PrivateKey, cert: x509.Certificate, signing_time: datetime
) -> None:
    """Refuse what cannot be signed in our profile (raises ValueError or SigningError)."""
    if signing_time.tzinfo is None or signing_time.utcoffset() is None:
        raise ValueError("signing_time must carry a UTC offset")
    if signing_time.microsecond:
        raise ValueError("signing_time must be whole seconds (XAdES SigningTime is written as is)")
    if any(name in root.attrib for name in ("Id", "ID", "id")):
        # signxml would then sign "#id" instead of the whole document (URI="").
        raise SigningError("the document root must not carry an Id attribute")
    if any(str(name).startswith(f"{{{XML_NS}}}") for name in root.attrib):
        # C14N 1.0 gives the signature's parts the root's xml: attributes in xmlsec1 but not in
        # lxml or signxml: the signature would verify in one and not the other.
        raise SigningError("the document root must not carry xml: attributes (xml:lang, …)")
    if next(root.iter(_ds("Signature")), None) is not None:
        raise SigningError("the document is already signed")
    if cert.public_key() != key.public_key():
        raise SigningError("the signing key does not match the signing certificate")


def _sign_value(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ec.ECDSA(hashes.SHA256()))
        return ecdsa_raw(der, key.curve.key_size)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _reference(
    signed_info: etree._Element, uri: str, ref_type: str | None = None
) -> etree._Element:
    reference = etree.SubElement(signed_info, _ds("Reference"), nsmap=_NSMAP)
    reference.set("URI", uri)
    if ref_type is not None:
        reference.set("Type", ref_type)
    return reference


def _digest_parts(reference: etree._Element, digest: bytes) -> None:
    etree.SubElement(reference, _ds("DigestMethod"), nsmap=_NSMAP, Algorithm=DIGEST_SHA256)
    value = etree.SubElement(reference, _ds("DigestValue"), nsmap=_NSMAP)
    value.text = base64.b64encode(digest).decode("ascii")


def _signed_info(signature: etree._Element, method: str, document_digest: bytes) -> etree._Element:
    signed_info = etree.SubElement(signature, _ds("SignedInfo"), nsmap=_NSMAP)
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N_10)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=method)
    reference = etree.SubElement(signed_info, _ds("Reference"), URI="")
    transforms = etree.SubElement(reference, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(transforms, _ds("Transform"), Algorithm=C14N_10)
    etree.SubElement(reference, _ds("DigestMethod"), Algorithm=DIGEST_SHA256)
    value = etree.SubElement(reference, _ds("DigestValue"))
    value.text = base64.b64encode(document_digest).decode("ascii")
    return signed_info


def _key_info(signature: etree._Element, chain: Sequence[x509.Certificate]) -> etree._Element:
    key_info = etree.SubElement(signature, _ds("KeyInfo"))
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    for cert in chain:
        etree.SubElement(x509_data, _ds("X509Certificate")).text = certificate_text(cert)
    return key_info


def _signed_properties(
    qualifying: etree._Element,
    properties_id: str,
    signing_time: str,
    chain: Sequence[x509.Certificate],
    reference_id: str,
) -> etree._Element:
    props = etree.SubElement(qualifying, _xades("SignedProperties"), nsmap=_NSMAP)
    props.set("Id", properties_id)
    ssp = etree.SubElement(props, _xades("SignedSignatureProperties"), nsmap=_NSMAP)
    etree.SubElement(ssp, _xades("SigningTime"), nsmap=_NSMAP).text = signing_time
    v2 = etree.SubElement(ssp, _xades("SigningCertificateV2"), nsmap=_NSMAP)
    for cert in chain:
        cert_node = etree.SubElement(v2, _xades("Cert"), nsmap=_NSMAP)
        cert_digest = etree.SubElement(cert_node, _xades("CertDigest"), nsmap=_NSMAP)
        _digest_parts(cert_digest, cert.fingerprint(hashes.SHA256()))
    sdop = etree.SubElement(props, _xades("SignedDataObjectProperties"), nsmap=_NSMAP)
    dof = etree.SubElement(sdop, _xades("DataObjectFormat"), nsmap=_NSMAP)
    dof.set("ObjectReference", f"#{reference_id}")
    etree.SubElement(dof, _xades("Description"), nsmap=_NSMAP).text = DATA_OBJECT_DESCRIPTION
    etree.SubElement(dof, _xades("MimeType"), nsmap=_NSMAP).text = DATA_OBJECT_MIME_TYPE
    return props


def sign_strict(
    root: etree._Element,
    key: PrivateKey,
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    signing_time: datetime,
    *,
    token: Callable[[], str] = _token,
) -> etree._Element:
    """A signed copy of ``root``: :func:`signing.xmldsig.sign_enveloped`'s contract and output.

    ``token`` makes the Ids' random parts (the signature's, KeyInfo's, SignedProperties' and the
    document reference's, in that order); tests pass a fixed sequence to compare with signxml.
    """
    check_signable(root, key, cert, signing_time)
    chain = [cert, *intermediates]
    # A fresh tree, as signxml makes one: the caller's element is left as it was, and whatever
    # sits outside the root element (processing instructions, comments) is not carried over.
    data = etree.tostring(root)
    doc = parse_untrusted(data, max_bytes=max(len(data), 1))
    document_digest = sha256(c14n(doc, C14N_10))

    signature = etree.Element(_ds("Signature"), nsmap=_NSMAP)
    doc.append(signature)
    signed_info = _signed_info(signature, signature_method_for(key), document_digest)
    value = etree.SubElement(signature, _ds("SignatureValue"))
    key_info = _key_info(signature, chain)
    ds_object = etree.SubElement(signature, _ds("Object"), nsmap=_NSMAP)
    fresh = _Tokens(token)
    signature_id = f"SignXMLSignature{fresh()}"
    signature.set("Id", signature_id)
    key_info_id = f"SignXMLCertificate{fresh()}"
    key_info.set("Id", key_info_id)
    qualifying = etree.SubElement(ds_object, _xades("QualifyingProperties"), nsmap=_NSMAP)
    qualifying.set("Target", f"#{signature_id}")
    properties_id = f"{signature_id}-SignedProperties{fresh()}"
    reference_id = f"SignXMLReference{fresh()}"
    signed_info[2].set("Id", reference_id)
    props = _signed_properties(
        qualifying, properties_id, signing_time.isoformat(), chain, reference_id
    )
    properties_ref = _reference(signed_info, f"#{properties_id}", SIGNED_PROPERTIES_TYPE)
    _digest_parts(properties_ref, sha256(c14n(props, C14N_10)))
    key_info_ref = _reference(signed_info, f"#{key_info_id}")
    _digest_parts(key_info_ref, sha256(c14n(key_info, C14N_10)))
    signed = c14n(signed_info, C14N_10)
    value.text = base64.b64encode(_sign_value(key, signed)).decode("ascii")
    return doc


class _Tokens:
    """Distinct random parts for the four Ids of one signature (as signxml keeps them)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token
        self._used: set[str] = set()

    def __call__(self) -> str:
        for _ in range(100):
            candidate = self._token()
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        raise SigningError("could not make distinct Ids for the signature")
