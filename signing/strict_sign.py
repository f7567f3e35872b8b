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
import copy
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from lxml import etree

from signing.errors import SigningError
from signing.keys import PrivateKey
from signing.strict_common import (
    C14N_10,
    ECDSA_WITH_SHA256,
    XML_NS,
    by_identity,
    c14n,
    certificate_key,
    certificate_text,
    ecdsa_raw,
    non_ascii_name,
    sha256,
    signature_method_for,
)
from signing.xmlprofile import DIGEST_SHA256, DS_NS, ENVELOPED, SIGNED_PROPERTIES_TYPE, XADES_NS

__all__ = ["DATA_OBJECT_DESCRIPTION", "DATA_OBJECT_MIME_TYPE", "check_signable", "sign_strict"]

DATA_OBJECT_DESCRIPTION = "Signed XML document"
DATA_OBJECT_MIME_TYPE = "text/xml"
_NSMAP = {"ds": DS_NS, "xades": XADES_NS}


_ID_NAMES = frozenset({"Id", "ID", "id"})
_XML_ATTRIBUTE = f"{{{XML_NS}}}"


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def _xades(tag: str) -> str:
    return f"{{{XADES_NS}}}{tag}"


class _RandomTokens:
    """signxml's Ids' random parts (8 upper-case hex digits), four from one read of the
    system's randomness: a read per Id cost a tenth of a signature."""

    def __init__(self) -> None:
        self._pending: list[str] = []

    def __call__(self) -> str:
        if not self._pending:
            hexes = secrets.token_hex(16).upper()
            self._pending = [hexes[i : i + 8] for i in range(0, 32, 8)]
        return self._pending.pop()


def check_signable(
    root: etree._Element, key: PrivateKey, cert: x509.Certificate, signing_time: datetime
) -> None:
    """Refuse what cannot be signed in our profile (raises ValueError or SigningError)."""
    if signing_time.tzinfo is None or signing_time.utcoffset() is None:
        raise ValueError("signing_time must carry a UTC offset")
    if signing_time.microsecond:
        raise ValueError("signing_time must be whole seconds (XAdES SigningTime is written as is)")
    names = [str(name) for name in root.attrib]
    if not _ID_NAMES.isdisjoint(names):
        # signxml would then sign "#id" instead of the whole document (URI="").
        raise SigningError("the document root must not carry an Id attribute")
    if any(name.startswith(_XML_ATTRIBUTE) for name in names):
        # C14N 1.0 gives the signature's parts the root's xml: attributes in xmlsec1 but not in
        # lxml or signxml: the signature would verify in one and not the other.
        raise SigningError("the document root must not carry xml: attributes (xml:lang, …)")
    if next(root.iter(_ds("Signature")), None) is not None:
        raise SigningError("the document is already signed")
    if not by_identity(_key_matches, key, cert):
        raise SigningError("the signing key does not match the signing certificate")


def _key_matches(key: PrivateKey, cert: x509.Certificate) -> bool:
    # Comparing the public keys cost a twentieth of a signature, for the same (key, certificate)
    # every time: callers load the key once, and by_identity remembers the answer.
    return bool(certificate_key(cert) == key.public_key())


def _sign_value(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ECDSA_WITH_SHA256)
        return ecdsa_raw(der, key.curve.key_size)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _digest_parts(reference: etree._Element, digest: bytes | None) -> None:
    etree.SubElement(reference, _ds("DigestMethod"), nsmap=_NSMAP, Algorithm=DIGEST_SHA256)
    value = etree.SubElement(reference, _ds("DigestValue"), nsmap=_NSMAP)
    if digest is not None:
        value.text = base64.b64encode(digest).decode("ascii")


def _template_of(key: PrivateKey, *chain: x509.Certificate) -> etree._Element:
    # Found by identity first (by_identity): hashing the chain's certificates for the cache
    # below cost more than the look-up.
    return _template(chain, signature_method_for(key))


@lru_cache(maxsize=16)
def _template(chain: tuple[x509.Certificate, ...], method: str) -> etree._Element:
    """The signature of one certificate chain with everything but the per-document values.

    Elements are made in signxml's order with its namespace maps, and the attributes each
    document fills in (Ids, Target, ObjectReference) are present already, empty, so that they
    are written in signxml's order too.
    """
    signature = etree.Element(_ds("Signature"), nsmap=_NSMAP, Id="")
    signed_info = etree.SubElement(signature, _ds("SignedInfo"), nsmap=_NSMAP)
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N_10)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=method)
    reference = etree.SubElement(signed_info, _ds("Reference"), URI="", Id="")
    transforms = etree.SubElement(reference, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(transforms, _ds("Transform"), Algorithm=C14N_10)
    etree.SubElement(reference, _ds("DigestMethod"), Algorithm=DIGEST_SHA256)
    etree.SubElement(reference, _ds("DigestValue"))
    for attributes in ({"URI": "", "Type": SIGNED_PROPERTIES_TYPE}, {"URI": ""}):
        _digest_parts(etree.SubElement(signed_info, _ds("Reference"), attributes, _NSMAP), None)
    etree.SubElement(signature, _ds("SignatureValue"))
    key_info = etree.SubElement(signature, _ds("KeyInfo"), Id="")
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    for cert in chain:
        etree.SubElement(x509_data, _ds("X509Certificate")).text = certificate_text(cert)
    ds_object = etree.SubElement(signature, _ds("Object"), nsmap=_NSMAP)
    qualifying = etree.SubElement(ds_object, _xades("QualifyingProperties"), {"Target": ""}, _NSMAP)
    props = etree.SubElement(qualifying, _xades("SignedProperties"), {"Id": ""}, _NSMAP)
    ssp = etree.SubElement(props, _xades("SignedSignatureProperties"), nsmap=_NSMAP)
    etree.SubElement(ssp, _xades("SigningTime"), nsmap=_NSMAP)
    v2 = etree.SubElement(ssp, _xades("SigningCertificateV2"), nsmap=_NSMAP)
    for cert in chain:
        cert_node = etree.SubElement(v2, _xades("Cert"), nsmap=_NSMAP)
        cert_digest = etree.SubElement(cert_node, _xades("CertDigest"), nsmap=_NSMAP)
        _digest_parts(cert_digest, cert.fingerprint(hashes.SHA256()))
    sdop = etree.SubElement(props, _xades("SignedDataObjectProperties"), nsmap=_NSMAP)
    dof = etree.SubElement(sdop, _xades("DataObjectFormat"), {"ObjectReference": ""}, _NSMAP)
    etree.SubElement(dof, _xades("Description"), nsmap=_NSMAP).text = DATA_OBJECT_DESCRIPTION
    etree.SubElement(dof, _xades("MimeType"), nsmap=_NSMAP).text = DATA_OBJECT_MIME_TYPE
    return signature


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_strict(
    root: etree._Element,
    key: PrivateKey,
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    signing_time: datetime,
    *,
    token: Callable[[], str] | None = None,
) -> etree._Element:
    """A signed copy of ``root``: :func:`signing.xmldsig.sign_enveloped`'s contract and output.

    ``token`` makes the Ids' random parts (the signature's, KeyInfo's, SignedProperties' and the
    document reference's, in that order); tests pass a fixed sequence to compare with signxml.
    """
    check_signable(root, key, cert, signing_time)
    # A fresh tree, as signxml makes one: the caller's element is left as it was, and whatever
    # sits outside the root element (processing instructions, comments) is not carried over.
    doc = copy.deepcopy(root)
    document = c14n(doc, C14N_10)
    odd = non_ascii_name(doc, document)
    if odd is not None:
        raise SigningError(
            f"element and attribute names and processing instructions must be ASCII, not {odd!r}"
        )
    document_digest = sha256(document)

    template = by_identity(_template_of, key, cert, *intermediates)
    signature = copy.deepcopy(template)
    signed_info, value, key_info, ds_object = signature
    _, _, data_ref, properties_ref, key_info_ref = signed_info
    props = ds_object[0][0]
    signature_part, key_info_part, properties_part, reference_part = _id_parts(token)
    signature_id = f"SignXMLSignature{signature_part}"
    key_info_id = f"SignXMLCertificate{key_info_part}"
    properties_id = f"{signature_id}-SignedProperties{properties_part}"
    reference_id = f"SignXMLReference{reference_part}"
    signature.set("Id", signature_id)
    data_ref.set("Id", reference_id)
    data_ref[2].text = _b64(document_digest)
    key_info.set("Id", key_info_id)
    ds_object[0].set("Target", f"#{signature_id}")
    props.set("Id", properties_id)
    props[0][0].text = signing_time.isoformat()
    props[1][0].set("ObjectReference", f"#{reference_id}")
    doc.append(signature)
    # SignedProperties and KeyInfo are canonicalised in place, under the document's namespaces.
    properties_ref.set("URI", f"#{properties_id}")
    properties_ref[1].text = _b64(sha256(c14n(props, C14N_10)))
    key_info_ref.set("URI", f"#{key_info_id}")
    key_info_ref[1].text = _b64(sha256(c14n(key_info, C14N_10)))
    value.text = _b64(_sign_value(key, c14n(signed_info, C14N_10)))
    return doc


def _id_parts(token: Callable[[], str] | None) -> list[str]:
    """The four Ids' random parts, distinct: from one read of the system's randomness unless
    ``token`` makes them (the general path cost a twentieth of a signature)."""
    if token is None:
        hexes = secrets.token_hex(16).upper()
        parts = [hexes[0:8], hexes[8:16], hexes[16:24], hexes[24:32]]
        if len(set(parts)) == len(parts):
            return parts
    fresh = _Tokens(_RandomTokens() if token is None else token)
    return [fresh() for _ in range(4)]


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
