"""What the strict-profile signer and verifier share: lxml's canonicalisation, SHA-256, and the
signature value's encoding (docs/formats.md, "XML signature profile").

Canonicalisation is always lxml's (``etree.tostring(method="c14n")``), never written here.
lxml has no C14N 1.1; like signxml, a ``xml-c14n11`` name is computed as C14N 1.0, which gives
the same bytes unless an ancestor of the canonicalised element carries an ``xml:`` attribute, and
the strict verifier refuses exactly those (:mod:`signing.strict_verify`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from signing.errors import SigningError
from signing.keys import PrivateKey

__all__ = [
    "C14N_10",
    "C14N_11",
    "ECDSA_SHA256",
    "ECDSA_WITH_SHA256",
    "EXC_C14N",
    "RSA_SHA256",
    "XML_NS",
    "b64_value",
    "by_identity",
    "c14n",
    "certificate_key",
    "certificate_text",
    "ecdsa_der",
    "ecdsa_raw",
    "non_ascii_name",
    "sha256",
    "signature_method_for",
]

C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#: cryptography's ECDSA-SHA256, made once (making it per signature cost a fiftieth of one).
ECDSA_WITH_SHA256 = ec.ECDSA(hashes.SHA256())
#: The namespace of ``xml:lang``, ``xml:space``, ``xml:base`` and ``xml:id``.
XML_NS = "http://www.w3.org/XML/1998/namespace"

# A start or end tag that reaches a byte outside ASCII before its end (a '>' inside a quoted
# attribute value does not end it): one search, no tag copied out (a third faster than
# collecting the tags).
_NON_ASCII_TAG = re.compile(
    rb"<[^<>\"'\x80-\xff]*+(?:(?:\"[^\"\x80-\xff]*+\"|'[^'\x80-\xff]*+')[^<>\"'\x80-\xff]*+)*+"
    rb"[\x80-\xff\"']"
)
# Every ASCII byte but the four the pattern above tells apart: each is only ever matched by a
# starred class that holds it, so deleting them all (bytes.translate, in C) changes no verdict,
# and the search then reads a fifth of the bytes (the instruction count of the check falls from
# about 270,000 to 180,000 a receipt in UTF-8 with Chinese text).
_ORDINARY_ASCII = bytes(b for b in range(128) if b not in b"<>\"'")
# XML whitespace, which base64 text in a signature may be wrapped with (XML-DSig's base64Binary).
_XML_SPACE = b" \t\r\n"


def c14n(node: etree._Element | etree._ElementTree, algorithm: str) -> bytes:
    """lxml's canonical form of ``node`` (without comments) under the named algorithm."""
    return etree.tostring(node, method="c14n", exclusive=algorithm == EXC_C14N, with_comments=False)


def non_ascii_name(root: etree._Element, utf8: bytes | None = None) -> str | None:
    """The first name in ``root``'s document that is not ASCII (an element's or attribute's,
    a namespace prefix), or processing instruction that is not, if any.

    lxml's default serialisation (ASCII) writes such a name as character references, which no
    parser reads back, and a processing instruction's text as references that stay literal:
    signxml, which copies the tree that way, fails on the one and finds a digest mismatch in
    the other. Our documents name everything in ASCII, so both the strict signer and verifier
    refuse the rest. ``utf8``, the same document as UTF-8 bytes, answers faster when it holds no
    comment, CDATA section or processing instruction: then every ``<`` starts a tag, a tag ends
    at the first ``>`` outside its quoted values, and tags holding only ASCII bytes mean no
    such name. (A tag read up to its first ``>`` alone missed a name after ``a=">"``.)
    """
    if utf8 is not None:
        if utf8.isascii():
            # No name can be outside ASCII (a character reference is text, never a name).
            return None
        body = utf8[_xml_declaration_end(utf8) :]
        if (
            # A one-byte search is memchr's; the two-byte one, a scan ten times as costly, only
            # runs when the byte is there. (find, not `in`: bytes' `in` tries the argument as an
            # integer first, and raising and clearing that TypeError costs more than memchr.)
            (body.find(b"!") == -1 or body.find(b"<!") == -1)
            and (body.find(b"?") == -1 or body.find(b"<?") == -1)
            and _NON_ASCII_TAG.search(body.translate(None, _ORDINARY_ASCII)) is None
        ):
            return None
    for node in root.iter(etree.Element, etree.ProcessingInstruction):
        if isinstance(node, etree._ProcessingInstruction):
            instruction = f"<?{node.target!s} {node.text or ''}?>"
            if not instruction.isascii():
                return instruction
            continue
        prefixes = [prefix for prefix in node.nsmap if prefix is not None]
        for name in (str(node.tag), *(str(a) for a in node.attrib), *prefixes):
            if not name.isascii():
                return name
    return None


def _xml_declaration_end(data: bytes) -> int:
    if not data.startswith(b"<?xml") or data[5:6] not in (b" ", b"\t", b"\r", b"\n"):
        return 0
    return data.find(b"?>") + 2


def sha256(data: bytes) -> bytes:
    """The SHA-256 digest, the only one the profile uses."""
    return hashlib.sha256(data).digest()


def b64_value(text: str | None) -> bytes | None:
    """The bytes of a base64 element text (XML whitespace allowed), None if it is not base64.

    Stricter than signxml, which drops any character outside the alphabet before decoding.
    """
    if text is None:
        return None
    packed = text.encode("ascii", "replace").translate(None, _XML_SPACE)
    try:
        return base64.b64decode(packed, validate=True) if packed else None
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=64)
def _certificate_text(der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    return "".join(b64[i : i + 64] + "\n" for i in range(0, len(b64), 64))


def certificate_text(cert: x509.Certificate) -> str:
    """A certificate as an ``X509Certificate`` text: its PEM body, 64-character lines, each
    ending in a newline (what signxml writes)."""
    return _certificate_text(cert.public_bytes(Encoding.DER))


@lru_cache(maxsize=256)
def _certificate_key(cert: x509.Certificate) -> CertificatePublicKeyTypes:
    return cert.public_key()


def certificate_key(cert: x509.Certificate) -> CertificatePublicKeyTypes:
    """The certificate's public key, parsed once per certificate (a batch repeats a few)."""
    return by_identity(_certificate_key, cert)


_R = TypeVar("_R")
# (function, ids of the arguments) → (arguments, result): the arguments are held, so their
# identities are not reused by other objects while the entry lives.
_BY_IDENTITY: dict[tuple[object, ...], tuple[tuple[object, ...], object]] = {}
_BY_IDENTITY_MAX = 256


def by_identity(function: Callable[..., _R], *arguments: object) -> _R:
    """``function(*arguments)``, remembered by the arguments' identities before their values.

    For certificates and keys the callers hold and pass again and again: hashing a certificate
    hashes its DER (a few microseconds, several times a signature), its identity costs nothing.
    ``function`` may cache by value itself (a certificate parsed again from the same bytes is
    another object).
    """
    key = (function, *map(id, arguments))
    held = _BY_IDENTITY.get(key)
    if held is not None and all(a is b for a, b in zip(held[0], arguments, strict=True)):
        return cast(_R, held[1])
    result = function(*arguments)
    if len(_BY_IDENTITY) >= _BY_IDENTITY_MAX:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[key] = (arguments, result)
    return result


def signature_method_for(key: PrivateKey) -> str:
    """The SignatureMethod of a key: ECDSA-SHA256 for EC keys, RSA-SHA256 for RSA keys."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECDSA_SHA256
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_SHA256
    raise SigningError(f"cannot sign with a {type(key).__name__}")


def _field_bytes(key_size: int) -> int:
    return (key_size + 7) // 8


def ecdsa_raw(der_signature: bytes, key_size: int) -> bytes:
    """XML-DSig's ECDSA SignatureValue: r and s, each left-padded to the field size."""
    r, s = decode_dss_signature(der_signature)
    size = _field_bytes(key_size)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_der(raw_signature: bytes, key_size: int) -> bytes | None:
    """The DER form cryptography verifies, or None unless ``raw_signature`` is exactly r‖s."""
    size = _field_bytes(key_size)
    if len(raw_signature) != 2 * size:
        return None
    r = int.from_bytes(raw_signature[:size], "big")
    s = int.from_bytes(raw_signature[size:], "big")
    return encode_dss_signature(r, s)
