"""Differential tests: the strict verifier never accepts what signxml or xmlsec1 refuses.

signxml (``verify_enveloped(engine="signxml")``, the same shape check and chain validation, then
signxml's digest and signature walk) and xmlsec1 are the references. Each document below is
verified by all three; a failure is the strict verifier accepting what either reference refuses.
Refusing more than they do is allowed, and every such case found while building the verifier is
in ``SETTLED`` with how it was settled (docs/security.md, "The strict verifier").

The mutation property runs with a fixed seed (``derandomize``) and a modest budget; ``slow``
runs a larger one. xmlsec1 is a process per document, so it is asked only about documents the
strict verifier accepts (the only ones that can fail the property) and about the signer's output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from receipts.domain.signed_documents import chain_validator
from signing.errors import SigningError
from signing.strict_sign import sign_strict
from signing.trust import TrustBundle
from tests.support import cross_province
from tests.support.pki import Pki
from tests.support.skips import need_tool
from tests.support.strict_differential import (
    Xmlsec1,
    both,
    judge,
    receipt,
    signed,
    when,
    with_timestamp_element,
)
from tests.support.strict_differential import xmlsec1 as xmlsec1_fixture
from tests.test_signing_xmldsig import BAD_CORPUS

DATA = Path(__file__).parent / "data"
DS = "http://www.w3.org/2000/09/xmldsig#"

xmlsec1 = xmlsec1_fixture


# The corpus -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_CORPUS))
def test_bad_signature_corpus_gets_the_same_findings(pki: Pki, xmlsec1: Xmlsec1, name: str) -> None:
    mutate, org, codes = BAD_CORPUS[name]
    data = mutate(pki, receipt(pki))
    verdicts = judge(data, pki.validator, xmlsec1, org=org, now=pki.now)
    assert verdicts.strict.codes == verdicts.signxml.codes == codes


def _corpus_files() -> list[tuple[Path, str]]:
    legacy = [(p, "legacy") for p in sorted((DATA / "legacy").glob("*.xml"))]
    others = [(p, "bad") for p in sorted((DATA / "bad").glob("*.xml"))]
    return legacy + others + [(p, "good") for p in sorted((DATA / "good").glob("*.xml"))]


@pytest.mark.parametrize(("path", "kind"), _corpus_files(), ids=lambda v: getattr(v, "name", v))
def test_corpus_files_get_the_same_verdict(pki: Pki, tmp_path: Path, path: Path, kind: str) -> None:
    if kind == "legacy":
        bundle = TrustBundle.load(DATA / "legacy" / "trust.pem")
    elif path.name == cross_province.RECEIPT_FILE:
        bundle = TrustBundle.load(DATA / "bad" / cross_province.TRUST_FILE)
    else:
        bundle = pki.bundle
    root = next(c for c in bundle.roots if c.subject == c.issuer)
    xmlsec = Xmlsec1(need_tool("xmlsec1", "xmlsec1"), tmp_path, root)
    data = path.read_bytes()
    verdicts = judge(data, chain_validator(bundle), xmlsec, org=None)
    assert verdicts.strict.codes == verdicts.signxml.codes
    assert verdicts.strict.valid == (kind == "legacy")


def test_the_timestamp_shape_is_accepted_like_signxml_and_xmlsec1(
    pki: Pki, xmlsec1: Xmlsec1
) -> None:
    data = with_timestamp_element(receipt(pki))
    verdicts = judge(data, pki.validator, xmlsec1, now=pki.now)
    assert verdicts.strict.valid and verdicts.signxml.valid


# Disagreements found while building the strict verifier, and how each was settled ------------


def _text(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def _junk_in_signature_value(data: bytes) -> bytes:
    start = data.index(b"<ds:SignatureValue>") + len(b"<ds:SignatureValue>") + 10
    return data[:start] + b"!" + data[start:]


def _comment_in_digest_value(data: bytes) -> bytes:
    found = re.search(rb"<ds:DigestValue>(....)", data)
    assert found is not None
    return data[: found.end()] + b"<!-- x -->" + data[found.end() :]


@dataclass(frozen=True)
class Settled:
    mutate: Callable[[bytes], bytes]
    signxml_accepts: bool
    xmlsec1_accepts: bool
    strict_code: str
    """What the strict verifier says: it refuses every one of them."""


SETTLED: dict[str, Settled] = {
    # URI="" is the whole document for xmlsec1 (top-level PIs included), the root for signxml.
    "pi-after-the-root": Settled(lambda d: d + b"<?audit x?>", True, False, "signature-wrapping"),
    "pi-before-the-root": Settled(
        lambda d: _text(d, b"<Doc", b"<?audit x?><Doc"), True, False, "signature-wrapping"
    ),
    # C14N 1.0 gives a document subset the xml: attributes of its ancestors: xmlsec1 does,
    # lxml's canonicalisation of an element (signxml's and ours) does not.
    "xml-lang-on-the-signature": Settled(
        lambda d: _text(d, b"<ds:Signature ", b'<ds:Signature xml:lang="zh" '),
        True,
        False,
        "malformed-signature",
    ),
    # signxml's b64decode drops characters outside the alphabet; xmlsec1 refuses them.
    "junk-in-the-signature-value": Settled(
        _junk_in_signature_value, True, False, "signature-invalid"
    ),
    # Both references accept comments in SignedInfo (c14n drops them; signxml reads what it
    # canonicalised, xmlsec1 the whole text). A comment splits lxml's .text, so the strict
    # verifier, which reads the tree, refuses comments anywhere in the signature: stricter.
    "comment-in-signed-info": Settled(
        lambda d: _text(d, b"<ds:SignatureMethod", b"<!-- x --><ds:SignatureMethod"),
        True,
        True,
        "malformed-signature",
    ),
    "comment-in-a-digest-value": Settled(
        _comment_in_digest_value, True, True, "malformed-signature"
    ),
    # Found by the mutation property: signxml copies a referenced element with its tail and
    # cannot parse the copy when the tail is text; xmlsec1 ignores text outside the element.
    # Our signer writes no text between the signature's elements, so the strict verifier
    # refuses any (whitespace apart).
    "text-after-signed-properties": Settled(
        lambda d: _text(d, b"</xades:SignedProperties>", b"</xades:SignedProperties>x"),
        False,
        True,
        "malformed-signature",
    ),
    "text-between-signature-parts": Settled(
        lambda d: _text(d, b"<ds:Object>", b"<ds:Object>x"), True, True, "malformed-signature"
    ),
}


@pytest.mark.parametrize("name", sorted(SETTLED))
def test_settled_disagreements(pki: Pki, xmlsec1: Xmlsec1, name: str) -> None:
    case = SETTLED[name]
    data = case.mutate(receipt(pki))
    verdicts = both(data, pki.validator, "640100", pki.now)
    assert verdicts.signxml.valid is case.signxml_accepts, verdicts.signxml.findings
    assert (xmlsec1.refusal(data) is None) is case.xmlsec1_accepts
    assert verdicts.strict.codes == (case.strict_code,)


def test_a_comment_outside_the_root_is_ignored(pki: Pki, xmlsec1: Xmlsec1) -> None:
    # Found by the mutation property: lxml canonicalises a root element with a sibling comment
    # through a stand-in document and writes xmlns="" on the children of a default namespace,
    # so the strict verifier, which canonicalised the root element, refused a good receipt
    # followed by a comment that signxml and xmlsec1 accept. Settled: it canonicalises the
    # document (C14N drops comments outside the root), as xmlsec1 does.
    receipt = signed(pki, etree.fromstring((DATA / "good" / "normal.xml").read_bytes()))
    for data in (receipt + b"<!-- after -->", receipt.replace(b"<Receipt", b"<!-- b --><Receipt")):
        verdicts = judge(data, pki.validator, xmlsec1, now=pki.now)
        assert verdicts.strict.valid and verdicts.signxml.valid


def test_non_ascii_names_are_refused(
    pki: Pki, xmlsec1: Xmlsec1, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the signer property below: lxml's default (ASCII) serialisation writes a
    # non-ASCII element name as character references, which no parser reads back, so signxml
    # cannot sign such a document nor verify it (its copies of the tree fail to parse), while
    # xmlsec1 verifies it. Settled: the strict signer and verifier refuse non-ASCII names (our
    # documents have none).
    doc = etree.fromstring("<Doc><项目>1</项目></Doc>".encode())
    c = pki.city
    with pytest.raises(SigningError, match="ASCII"):
        sign_strict(doc, c.key, c.cert, c.intermediates, when(pki))
    monkeypatch.setattr("signing.strict_sign.non_ascii_name", lambda root, utf8: None)
    data = signed(pki, doc)
    monkeypatch.undo()
    verdicts = both(data, pki.validator, "640100", pki.now)
    assert verdicts.signxml.codes == ("malformed-signature",)
    assert xmlsec1.refusal(data) is None
    assert verdicts.strict.codes == ("malformed-signature",)
    assert "ASCII" in verdicts.strict.findings[0].message
