"""The one shape of XML signature we produce, and a check that a document has exactly that shape.

Signature wrapping attacks work by making a verifier check one thing and an application read
another. Our defence is to accept only what :func:`signing.xmldsig.sign_enveloped` writes: one
``ds:Signature``, a direct child of the root, whose references are exactly the whole document
(``URI=""``, enveloped-signature + canonicalisation), its own XAdES ``SignedProperties`` and
optionally its own ``KeyInfo``, each Id unique in the document, with only the algorithms we use.
The one unsigned addition accepted is a XAdES-T signature time-stamp
(:mod:`signing.xades_t`): ``xades:UnsignedProperties/xades:UnsignedSignatureProperties/
xades:SignatureTimeStamp`` holding an optional ``ds:CanonicalizationMethod`` and one
``xades:EncapsulatedTimeStamp``, without attributes beyond the c14n algorithm; nothing else.
This module only *looks*; it resolves no reference and canonicalises nothing (signxml does that).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lxml import etree

from signing.result import Finding, FindingCode

__all__ = [
    "C14N_ALGORITHMS",
    "DIGEST_SHA256",
    "DS_NS",
    "ENVELOPED",
    "SIGNATURE_METHODS",
    "SIGNED_PROPERTIES_TYPE",
    "XADES_NS",
    "SignatureShape",
    "inspect_signature",
]

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
#: Canonicalisations a signature of ours may name (all without comments).
C14N_ALGORITHMS = frozenset(
    {
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    }
)
#: Signature methods we produce, by key type.
SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    }
)
_C14N_TRANSFORMS = [[algorithm] for algorithm in sorted(C14N_ALGORITHMS)]
#: Canonicalisations a signature time-stamp may name: the ones lxml computes (no C14N 1.1).
_TS_C14N = frozenset(
    {"http://www.w3.org/TR/2001/REC-xml-c14n-20010315", "http://www.w3.org/2001/10/xml-exc-c14n#"}
)
# Every attribute signxml (or another verifier) might resolve a "#..." reference by; xml:id's
# local name is "id". Compiled XPath runs in C: this check must cost little next to signxml's.
_ID_VALUES = etree.XPath("//@*[local-name()='Id' or local-name()='ID' or local-name()='id']")
_ALGORITHMS = etree.XPath(".//@Algorithm")


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def _xades(tag: str) -> str:
    return f"{{{XADES_NS}}}{tag}"


@dataclass(frozen=True)
class SignatureShape:
    """The parts of a well-shaped signature that verification reads next."""

    signature: etree._Element
    """The one ``ds:Signature`` element."""

    signature_method: str
    """The SignatureMethod algorithm URI."""

    reference_count: int
    """How many references SignedInfo holds (2 or 3)."""

    data_reference_index: int
    """Position of the ``URI=""`` reference among them (signxml returns results in this order)."""

    certificates_b64: tuple[str, ...]
    """The base64 text of each ``X509Certificate`` in KeyInfo, signing certificate first."""

    signing_time_text: str
    """The text of the XAdES ``SigningTime``."""

    timestamp_b64: str | None = None
    """The base64 text of the XAdES-T ``EncapsulatedTimeStamp``, when the signature has one."""

    timestamp_c14n: str | None = None
    """The canonicalisation the time-stamp's imprint was computed with (XAdES's default,
    inclusive C14N 1.0, when the SignatureTimeStamp names none)."""


class _Refused(Exception):
    def __init__(self, code: FindingCode, message: str) -> None:
        super().__init__(message)
        self.finding = Finding.of(code, message)


def _wrapping(message: str) -> _Refused:
    return _Refused(FindingCode.SIGNATURE_WRAPPING, message)


def _elements(parent: etree._Element) -> list[etree._Element]:
    # Comments and processing instructions are not elements; c14n drops them anyway. The
    # filter runs in C (a Python test of each child's tag cost twice as much).
    return list(parent.iterchildren(etree.Element))


def inspect_signature(root: etree._Element) -> SignatureShape | Finding:
    """The signature's shape if it is exactly ours, else the first finding that refuses it."""
    try:
        return _inspect(root)
    except _Refused as refused:
        return refused.finding


def _inspect(root: etree._Element) -> SignatureShape:
    signatures = list(root.iter(_ds("Signature")))
    if not signatures:
        raise _Refused(FindingCode.NO_SIGNATURE, "the document carries no ds:Signature")
    if len(signatures) > 1:
        raise _Refused(
            FindingCode.MULTIPLE_SIGNATURES,
            f"the document carries {len(signatures)} ds:Signature elements; exactly one is allowed",
        )
    signature = signatures[0]
    if signature.getparent() is not root:
        raise _wrapping("the ds:Signature is not a direct child of the document root")
    _refuse_sha1(signature)

    parts = _elements(signature)
    names = [etree.QName(part).localname for part in parts]
    if names != ["SignedInfo", "SignatureValue", "KeyInfo", "Object"] or any(
        etree.QName(part).namespace != DS_NS for part in parts
    ):
        raise _wrapping(
            f"the signature holds {', '.join(names) or 'nothing'}; expected SignedInfo, "
            f"SignatureValue, KeyInfo and one Object"
        )
    signed_info, _value, key_info, ds_object = parts
    signature_method = _check_signed_info_algorithms(signed_info)
    signed_properties, unsigned = _signed_properties(signature, ds_object)
    timestamp = _signature_timestamp(unsigned) if unsigned is not None else None
    ids = _ids(root)
    references = [ref for ref in _elements(signed_info) if ref.tag == _ds("Reference")]
    data_index = _check_references(references, signed_properties, key_info, ids)
    return SignatureShape(
        signature=signature,
        signature_method=signature_method,
        reference_count=len(references),
        data_reference_index=data_index,
        certificates_b64=_certificates(key_info),
        signing_time_text=_signing_time(signed_properties),
        timestamp_b64=timestamp[0] if timestamp else None,
        timestamp_c14n=timestamp[1] if timestamp else None,
    )


def _attributes(path: etree.XPath, node: etree._Element) -> list[tuple[str, etree._Element]]:
    """(value, owner element) for each attribute an attribute-selecting XPath finds."""
    found = path(node)
    pairs: list[tuple[str, etree._Element]] = []
    if isinstance(found, list):
        for value in found:
            owner = getattr(value, "getparent", lambda: None)()
            if isinstance(value, str) and isinstance(owner, etree._Element):
                pairs.append((str(value), owner))
    return pairs


def _refuse_sha1(signature: etree._Element) -> None:
    for algorithm, owner in _attributes(_ALGORITHMS, signature):
        if "sha1" in algorithm.lower():
            where = etree.QName(owner).localname
            raise _Refused(FindingCode.SHA1_REFUSED, f"SHA-1 is refused: {where} uses {algorithm}")


def _check_signed_info_algorithms(signed_info: etree._Element) -> str:
    children = _elements(signed_info)
    if len(children) < 3 or [etree.QName(c).localname for c in children[:2]] != [
        "CanonicalizationMethod",
        "SignatureMethod",
    ]:
        raise _wrapping("SignedInfo does not start with CanonicalizationMethod, SignatureMethod")
    if any(child.tag != _ds("Reference") for child in children[2:]):
        raise _wrapping("SignedInfo holds something other than references after SignatureMethod")
    c14n = children[0].get("Algorithm", "")
    if c14n not in C14N_ALGORITHMS:
        raise _Refused(FindingCode.UNSUPPORTED_ALGORITHM, f"canonicalisation {c14n!r} is refused")
    method = children[1].get("Algorithm", "")
    if method not in SIGNATURE_METHODS:
        raise _Refused(FindingCode.UNSUPPORTED_ALGORITHM, f"signature method {method!r} is refused")
    return method


def _signed_properties(
    signature: etree._Element, ds_object: etree._Element
) -> tuple[etree._Element, etree._Element | None]:
    qualifying = _elements(ds_object)
    if len(qualifying) != 1 or qualifying[0].tag != _xades("QualifyingProperties"):
        raise _wrapping("the signature's Object must hold exactly one xades:QualifyingProperties")
    signature_id = signature.get("Id")
    if not signature_id or qualifying[0].get("Target") != f"#{signature_id}":
        raise _wrapping("xades:QualifyingProperties does not target this signature")
    props = _elements(qualifying[0])
    if not props or props[0].tag != _xades("SignedProperties"):
        raise _wrapping("xades:QualifyingProperties must hold exactly one SignedProperties")
    if len(props) == 1:
        return props[0], None
    if len(props) != 2 or props[1].tag != _xades("UnsignedProperties"):
        raise _wrapping(
            "xades:QualifyingProperties may hold only SignedProperties and, after it, "
            "one UnsignedProperties"
        )
    return props[0], props[1]


def _only(parent: etree._Element, tag: str, what: str) -> etree._Element:
    """The one child of ``parent``, which must be ``tag``; ``parent`` carries no attributes."""
    children = _elements(parent)
    if parent.attrib or len(children) != 1 or children[0].tag != tag:
        raise _wrapping(
            f"{what} must hold exactly one {etree.QName(tag).localname} and nothing else"
        )
    return children[0]


def _signature_timestamp(unsigned: etree._Element) -> tuple[str, str]:
    """(base64 token, c14n algorithm) of the one XAdES-T time-stamp; anything else refused."""
    usp = _only(unsigned, _xades("UnsignedSignatureProperties"), "xades:UnsignedProperties")
    stamp = _only(usp, _xades("SignatureTimeStamp"), "xades:UnsignedSignatureProperties")
    if stamp.attrib:
        raise _wrapping("xades:SignatureTimeStamp carries attributes we never write")
    parts = _elements(stamp)
    c14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    if len(parts) == 2 and parts[0].tag == _ds("CanonicalizationMethod"):
        method, parts = parts[0], parts[1:]
        c14n = method.get("Algorithm", "")
        if set(method.attrib) != {"Algorithm"} or _elements(method) or c14n not in _TS_C14N:
            raise _Refused(
                FindingCode.UNSUPPORTED_ALGORITHM,
                f"time-stamp canonicalisation {c14n!r} is refused",
            )
    if len(parts) != 1 or parts[0].tag != _xades("EncapsulatedTimeStamp") or parts[0].attrib:
        raise _wrapping(
            "xades:SignatureTimeStamp must hold one EncapsulatedTimeStamp (after an optional "
            "CanonicalizationMethod) and nothing else"
        )
    token = "".join((parts[0].text or "").split())
    if not token or _elements(parts[0]):
        raise _Refused(FindingCode.MALFORMED_SIGNATURE, "the EncapsulatedTimeStamp is empty")
    return token, c14n


def _ids(root: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = defaultdict(list)
    for value, owner in _attributes(_ID_VALUES, root):
        found[value].append(owner)
    return found


def _check_references(
    references: list[etree._Element],
    signed_properties: etree._Element,
    key_info: etree._Element,
    ids: dict[str, list[etree._Element]],
) -> int:
    data_index: int | None = None
    seen_properties = seen_key_info = False
    for index, reference in enumerate(references):
        uri = reference.get("URI")
        digest = [c for c in _elements(reference) if c.tag == _ds("DigestMethod")]
        if len(digest) != 1 or digest[0].get("Algorithm") != DIGEST_SHA256:
            algorithm = digest[0].get("Algorithm") if digest else None
            raise _Refused(
                FindingCode.UNSUPPORTED_ALGORITHM,
                f"reference {uri!r} must use the SHA-256 digest, not {algorithm!r}",
            )
        transforms = _transforms(reference)
        if uri == "" and data_index is None and reference.get("Type") is None:
            if transforms[:1] != [ENVELOPED] or transforms[1:] not in _C14N_TRANSFORMS:
                raise _wrapping("the document reference must use enveloped-signature + c14n only")
            data_index = index
            continue
        target = _target(uri, ids)
        if (
            target is signed_properties
            and not seen_properties
            and reference.get("Type") == SIGNED_PROPERTIES_TYPE
        ):
            seen_properties = True
        elif target is key_info and not seen_key_info:
            seen_key_info = True
        else:
            raise _wrapping(
                f"reference {uri!r} is not one we produce (the document, the "
                f"signature's SignedProperties or its KeyInfo, once each)"
            )
        if transforms[1:] or transforms[:1] not in ([], *_C14N_TRANSFORMS):
            raise _wrapping(f"reference {uri!r} uses transforms we never produce")
    if data_index is None:
        raise _wrapping('the signature does not cover the whole document (no URI="" reference)')
    if not seen_properties:
        raise _wrapping("the signature does not cover its XAdES SignedProperties")
    return data_index


def _transforms(reference: etree._Element) -> list[str]:
    holders = [c for c in _elements(reference) if c.tag == _ds("Transforms")]
    if len(holders) > 1:
        raise _wrapping("a reference holds more than one Transforms element")
    if not holders:
        return []
    return [t.get("Algorithm", "") for t in _elements(holders[0])]


def _target(uri: str | None, ids: dict[str, list[etree._Element]]) -> etree._Element | None:
    if uri is None or not uri.startswith("#") or uri.startswith("#xpointer("):
        return None
    matches = ids.get(uri[1:], [])
    if len(matches) != 1:
        raise _wrapping(f"reference {uri!r} matches {len(matches)} elements, not exactly one")
    return matches[0]


def _certificates(key_info: etree._Element) -> tuple[str, ...]:
    children = _elements(key_info)
    if len(children) != 1 or children[0].tag != _ds("X509Data"):
        raise _Refused(
            FindingCode.MALFORMED_SIGNATURE, "KeyInfo must hold exactly one X509Data element"
        )
    texts = tuple(
        "".join((cert.text or "").split())
        for cert in _elements(children[0])
        if cert.tag == _ds("X509Certificate")
    )
    if not texts or not all(texts):
        raise _Refused(FindingCode.MALFORMED_SIGNATURE, "KeyInfo carries no signing certificate")
    return texts


def _signing_time(signed_properties: etree._Element) -> str:
    # The signed properties we write: SigningTime, then SigningCertificateV2, once each (signxml
    # reads the first match of each, so a second one must not exist to be misread).
    parts = _elements(signed_properties)
    if (
        not parts
        or parts[0].tag != _xades("SignedSignatureProperties")
        or any(part.tag != _xades("SignedDataObjectProperties") for part in parts[1:2])
        or len(parts) > 2
    ):
        raise _Refused(FindingCode.MALFORMED_SIGNATURE, "unexpected XAdES SignedProperties")
    names = [etree.QName(child).localname for child in _elements(parts[0])]
    if names != ["SigningTime", "SigningCertificateV2"]:
        raise _Refused(
            FindingCode.MALFORMED_SIGNATURE,
            "XAdES SignedSignatureProperties must hold one SigningTime and one "
            f"SigningCertificateV2, not {', '.join(names) or 'nothing'}",
        )
    text = (_elements(parts[0])[0].text or "").strip()
    if not text:
        raise _Refused(FindingCode.MALFORMED_SIGNATURE, "the XAdES SigningTime is empty")
    return text
