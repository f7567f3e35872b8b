"""The strict verifier's shape check: one walk over the signature our signer writes, element
for element (docs/security.md, "The strict verifier"; docs/formats.md, "XML signature profile").

:func:`inspect_strict` only *recognises*. It admits a signature that is exactly the shape
:mod:`signing.strict_sign` (and signxml's ``XAdESSigner``) writes: the same elements in the same
order and nesting, no comment, processing instruction or text between them, exactly the
attributes we write, the algorithms :func:`signing.xmlprofile.inspect_signature` admits, and
references that name the signature's own SignedProperties and KeyInfo by an Id found once in
the document. Everything it admits, ``inspect_signature`` admits with the same
:class:`~signing.xmlprofile.SignatureShape`, and :mod:`signing.strict_verify`'s structural
checks pass (tests/test_strict_shape.py holds it to that on the corpus and mutations).

Anything else, including every refusal, goes to ``inspect_signature``, which gives the finding
(or admits a shape the walk does not know, such as a XAdES-T time-stamp, which the strict
verifier then checks the long way): findings are the ones they were. The walk exists because
``inspect_signature``'s XPath queries and separate passes cost a fifth of a verification
(issue 19); it reads each node once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from signing.result import Finding
from signing.xmlprofile import (
    C14N_ALGORITHMS,
    DIGEST_SHA256,
    DS_NS,
    ENVELOPED,
    SIGNATURE_METHODS,
    SIGNED_PROPERTIES_TYPE,
    XADES_NS,
    SignatureShape,
    inspect_signature,
)

__all__ = ["StrictParts", "StrictShape", "inspect_strict"]

_DS = f"{{{DS_NS}}}"
_XA = f"{{{XADES_NS}}}"
_SIGNATURE = f"{_DS}Signature"
# Every attribute a "#..." reference might be resolved by (as inspect_signature's _ID_VALUES),
# as plain strings: only their values are counted here.
_ID_VALUES = etree.XPath(
    "//@*[local-name()='Id' or local-name()='ID' or local-name()='id']", smart_strings=False
)
# What stands before the '=' of an attribute named Id, ID or id (any prefix) in a document's
# bytes: its name's last letter, or whitespace. A name is never a character reference, so each
# such attribute adds at least one to these counts (other text only adds, never hides one):
# when the counts add up to no more than the signature's own Id attributes, the document holds
# no other, and _ID_VALUES' walk over every attribute (a third of the shape check) is not
# needed. (The digests' and signature value's base64 never end in d or D before their '='.)
_ID_ENDINGS = (b"d=", b"D=", b" =", b"\t=", b"\n=", b"\r=")
# The same endings as the bytes before an '=': the count is taken in one pass over the '='
# signs (found with memchr) instead of six scans of the whole document (those cost about
# 130,000 instructions a receipt, a twentieth of a verification; the pass a tenth of that).
_ID_LAST = frozenset(ending[0] for ending in _ID_ENDINGS)
# More '=' signs than this and the pass stops: the XPath walk answers instead (a document of
# '=' signs must not cost a Python step each).
_MAX_EQUALS = 256
# XML's whitespace (normalize-space's), not Python's: U+3000 is text to XPath.
_XML_SPACE = " \t\r\n"

# Every Algorithm attribute in the signature (inspect_signature refuses SHA-1 in any of them).
_ALGORITHMS = etree.XPath(".//@Algorithm", smart_strings=False)


def _digest(holder: str) -> tuple[tuple[str, int], ...]:
    return ((holder, 2), (f"{_DS}DigestMethod", 0), (f"{_DS}DigestValue", 0))


@dataclass(frozen=True)
class _Expected:
    """The pre-order walk of our signature: each node's tag, and how many children each
    element that holds any has. A pre-order sequence and every node's child count fix a tree;
    with the node count fixed too, the nodes expected to hold nothing hold nothing (the counts
    add up to the nodes less one), so only the holders' counts need reading."""

    tags: list[str]
    holders: tuple[tuple[int, int], ...]


@lru_cache(maxsize=16)
def _expected(certificates: int, cert_digests: int) -> _Expected:
    """The walk with so many KeyInfo certificates and SigningCertificateV2 digests."""
    nodes = (
        (_SIGNATURE, 4),
        (f"{_DS}SignedInfo", 5),
        (f"{_DS}CanonicalizationMethod", 0),
        (f"{_DS}SignatureMethod", 0),
        (f"{_DS}Reference", 3),
        (f"{_DS}Transforms", 2),
        (f"{_DS}Transform", 0),
        (f"{_DS}Transform", 0),
        *_digest(f"{_DS}Reference")[1:],
        *_digest(f"{_DS}Reference"),
        *_digest(f"{_DS}Reference"),
        (f"{_DS}SignatureValue", 0),
        (f"{_DS}KeyInfo", 1),
        (f"{_DS}X509Data", certificates),
        *((f"{_DS}X509Certificate", 0),) * certificates,
        (f"{_DS}Object", 1),
        (f"{_XA}QualifyingProperties", 1),
        (f"{_XA}SignedProperties", 2),
        (f"{_XA}SignedSignatureProperties", 2),
        (f"{_XA}SigningTime", 0),
        (f"{_XA}SigningCertificateV2", cert_digests),
        *(((f"{_XA}Cert", 1), *_digest(f"{_XA}CertDigest")) * cert_digests),
        (f"{_XA}SignedDataObjectProperties", 1),
        (f"{_XA}DataObjectFormat", 2),
        (f"{_XA}Description", 0),
        (f"{_XA}MimeType", 0),
    )
    holders = tuple((index, count) for index, (_, count) in enumerate(nodes) if count)
    return _Expected([tag for tag, _ in nodes], holders)


# Positions in the walk (fixed up to X509Data, then shifted by the certificates).
_SIGNED_INFO, _C14N, _METHOD, _DATA_REF, _ENVELOPED, _DATA_C14N, _DATA_DIGEST = 1, 2, 3, 4, 6, 7, 8
_PROPS_REF, _PROPS_DIGEST, _KEY_REF, _KEY_DIGEST = 10, 11, 13, 14
_VALUE, _KEY_INFO, _X509_DATA = 16, 17, 18


@dataclass(frozen=True)
class StrictParts:
    """The signature's parts the strict verifier reads, as the walk found them."""

    signed_info: etree._Element
    value: etree._Element
    key_info: etree._Element
    signed_properties: etree._Element


@dataclass(frozen=True)
class StrictShape(SignatureShape):
    """A :class:`SignatureShape` the walk recognised, with the parts it found."""

    parts: StrictParts | None = None


def inspect_strict(root: etree._Element, source: bytes | None = None) -> SignatureShape | Finding:
    """``inspect_signature``'s answer, found by one walk when the signature is exactly ours.

    ``source``, the UTF-8 bytes ``root`` was parsed from, only makes the walk faster."""
    shape = _walk(root, source)
    return inspect_signature(root) if shape is None else shape


def _walk(root: etree._Element, source: bytes | None = None) -> StrictShape | None:
    signatures = list(root.iter(_SIGNATURE))
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        return None
    signature = signatures[0]
    nodes = list(signature.iter())  # comments, processing instructions and entities too
    if len(nodes) <= _X509_DATA:
        return None
    certificates = len(nodes[_X509_DATA])
    v2 = _X509_DATA + certificates + 6
    if certificates < 1 or len(nodes) <= v2:
        return None
    expected = _expected(certificates, len(nodes[v2]))
    if (
        [node.tag for node in nodes] != expected.tags
        or any(len(nodes[index]) != count for index, count in expected.holders)
        or not _only_whitespace_between(nodes, expected)
    ):
        return None
    return _shape(root, nodes, certificates, source)


def _only_whitespace_between(nodes: list[etree._Element], expected: _Expected) -> bool:
    """No text but XML whitespace in an element that holds elements, nor after an element
    inside the signature (strict_verify's _MIXED_TEXT, read node by node)."""
    for index, _ in expected.holders:
        text = nodes[index].text
        if text is not None and text.strip(_XML_SPACE):
            return False
    for node in nodes[1:]:
        tail = node.tail
        if tail is not None and tail.strip(_XML_SPACE):
            return False
    return True


def _shape(
    root: etree._Element, nodes: list[etree._Element], certificates: int, source: bytes | None
) -> StrictShape | None:
    """The shape, once the elements are ours: now their values (algorithms, references)."""
    signature = nodes[0]
    after = _X509_DATA + certificates
    qualifying, props = nodes[after + 2], nodes[after + 3]
    key_info = nodes[_KEY_INFO]
    signature_id, props_id, key_info_id = signature.get("Id"), props.get("Id"), key_info.get("Id")
    method = nodes[_METHOD].get("Algorithm", "")
    if (
        # The attributes strict_verify's _parts and _check_certificate_digests allow.
        signature.keys() != ["Id"]
        or nodes[_VALUE].attrib
        or nodes[after + 1].attrib
        or qualifying.keys() != ["Target"]
        or nodes[after + 6].attrib
        or nodes[_DATA_REF].get("Type") is not None
        or nodes[_KEY_REF].get("Type") is not None
        or any("sha1" in algorithm.lower() for algorithm in _algorithms(signature))
        or not signature_id
        or qualifying.get("Target") != f"#{signature_id}"
        or nodes[_C14N].get("Algorithm") not in C14N_ALGORITHMS
        or method not in SIGNATURE_METHODS
        or nodes[_DATA_REF].get("URI") != ""
        or nodes[_ENVELOPED].get("Algorithm") != ENVELOPED
        or nodes[_DATA_C14N].get("Algorithm") not in C14N_ALGORITHMS
        or nodes[_PROPS_REF].get("Type") != SIGNED_PROPERTIES_TYPE
        or not _names(nodes[_PROPS_REF], props_id)
        or not _names(nodes[_KEY_REF], key_info_id)
        or any(node.get("Algorithm") != DIGEST_SHA256 for node in _digest_methods(nodes, after))
        or not _found_once(
            root,
            (str(props_id), str(key_info_id)),
            (signature_id, nodes[_DATA_REF].get("Id"), key_info_id, props_id),
            source,
        )
    ):
        return None
    texts = tuple(_packed(n.text or "") for n in nodes[_X509_DATA + 1 : after + 1])
    signing_time = (nodes[after + 5].text or "").strip()
    if not all(texts) or not signing_time:
        return None
    return StrictShape(
        signature=signature,
        signature_method=method,
        reference_count=3,
        data_reference_index=0,
        certificates_b64=texts,
        signing_time_text=signing_time,
        parts=StrictParts(nodes[_SIGNED_INFO], nodes[_VALUE], key_info, props),
    )


@lru_cache(maxsize=64)
def _packed(text: str) -> str:
    """A certificate's base64 text without its whitespace (Python's, as inspect_signature
    reads it): a batch repeats the same few texts, and splitting one cost more than finding it."""
    return "".join(text.split())


def _algorithms(signature: etree._Element) -> list[str]:
    found = _ALGORITHMS(signature)
    return [str(value) for value in found] if isinstance(found, list) else []


def _digest_methods(nodes: list[etree._Element], after: int) -> list[etree._Element]:
    """The three references' DigestMethods, then each signing-certificate digest's."""
    cert_digests = len(nodes[after + 6])
    return [
        *nodes[_DATA_DIGEST : _KEY_DIGEST + 1 : 3],
        *nodes[after + 9 : after + 9 + 4 * cert_digests : 4],
    ]


def _names(reference: etree._Element, target_id: str | None) -> bool:
    """Whether ``reference`` names ``target_id`` the way inspect_signature resolves it."""
    return (
        bool(target_id)
        and not str(target_id).startswith("xpointer(")
        and (reference.get("URI") == f"#{target_id}")
    )


def _found_once(
    root: etree._Element,
    target_ids: tuple[str, ...],
    own: tuple[str | None, ...] = (),
    source: bytes | None = None,
) -> bool:
    """Whether no other attribute in the document carries these Ids (an Id given twice is
    ambiguous: inspect_signature refuses the reference).

    ``own``: the values of the Id attributes the walk read on the signature's elements (None
    where absent); ``source``: the document's UTF-8 bytes. When the bytes hold no more Id-like
    attributes than ``own`` has values, those are all the document's Ids."""
    present = [value for value in own if value is not None]
    if source is not None and _id_like_count(source, len(present)) <= len(present):
        return all(present.count(target) == 1 for target in target_ids)
    found = _ID_VALUES(root)
    return isinstance(found, list) and all(found.count(target) == 1 for target in target_ids)


def _id_like_count(source: bytes, enough: int) -> int:
    """How many of _ID_ENDINGS ``source`` holds (``sum(map(source.count, _ID_ENDINGS))``: no
    two of them can overlap, each ending in the '=' none starts with), or more than ``enough``
    once it is known to be more, or when the '=' signs are too many to look at one by one."""
    count = 0
    at = source.find(b"=")
    for _ in range(_MAX_EQUALS):
        if at == -1:
            return count
        if at and source[at - 1] in _ID_LAST:
            count += 1
            if count > enough:
                return count
        at = source.find(b"=", at + 1)
    return enough + 1
