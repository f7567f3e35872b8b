"""The strict verifier's one-walk shape check (signing/strict_shape.py), the signed document
handed over unparsed (signing/result.py), and the non-ASCII names the byte filter used to miss.

The walk must never admit what ``inspect_signature`` and the strict verifier's structural
checks refuse, and must give the same shape when it admits: held on the signer's output and on
Hypothesis mutations of it (tests/test_strict_mutations.py's).
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from signing.errors import SigningError
from signing.strict_shape import StrictShape, _walk, inspect_strict
from signing.strict_sign import sign_strict
from signing.strict_verify import _parts
from signing.xmlparse import UnsafeXML, parse_untrusted
from signing.xmlprofile import DS_NS, SignatureShape, inspect_signature
from tests.support.pki import Pki, sample_document
from tests.support.strict_differential import (
    Xmlsec1,
    both,
    receipt,
    signed,
    when,
    with_timestamp_element,
)
from tests.support.strict_differential import xmlsec1 as xmlsec1_fixture
from tests.test_strict_mutations import MUTATIONS

xmlsec1 = xmlsec1_fixture


def _same_shape(walked: SignatureShape, inspected: SignatureShape | object) -> None:
    assert isinstance(inspected, SignatureShape)
    for field in fields(SignatureShape):
        assert getattr(walked, field.name) == getattr(inspected, field.name), field.name


def test_the_walk_recognises_what_the_signer_writes(pki: Pki) -> None:
    data = receipt(pki)
    root = parse_untrusted(data)
    shape = inspect_strict(root)
    assert isinstance(shape, StrictShape) and shape.parts is not None
    _same_shape(shape, inspect_signature(root))
    assert shape.parts == _parts(root, shape.signature)


def test_a_timestamp_is_left_to_inspect_signature(pki: Pki) -> None:
    root = parse_untrusted(with_timestamp_element(receipt(pki)))
    assert _walk(root) is None
    shape = inspect_strict(root)
    assert not isinstance(shape, StrictShape)
    assert shape == inspect_signature(root)


@pytest.fixture(scope="module")
def base(pki: Pki) -> bytes:
    return receipt(pki)


_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_the_walk_admits_nothing_inspect_signature_refuses(
    base: bytes, data: st.DataObject
) -> None:
    document = base
    for name in data.draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3)):
        document = MUTATIONS[name](data.draw, document)
    try:
        root = parse_untrusted(document)
    except UnsafeXML:
        return
    inspected = inspect_signature(root)
    walked = _walk(root)
    if walked is None:
        assert inspect_strict(root) == inspected  # refusals and other shapes: its answer
        return
    _same_shape(walked, inspected)
    assert walked.parts == _parts(root, walked.signature)  # the structural checks pass too


# Names outside ASCII --------------------------------------------------------------------------

HIDDEN = {
    # A tag was read up to its first '>', so a name after a quoted '>' was never looked at.
    "attribute after a quoted >": ('<Doc xmlns="urn:t"><A b="&gt;" 项="1"/></Doc>', b'b=">"'),
    "used prefix": ('<Doc xmlns="urn:t" xmlns:项="urn:x"><项:A/></Doc>', None),
    "declared prefix": ('<Doc xmlns="urn:t" xmlns:项="urn:x"><A/></Doc>', None),
    "processing instruction target": ('<Doc xmlns="urn:t"><?项 x?></Doc>', None),
    "processing instruction text": ('<Doc xmlns="urn:t"><?pi 项?></Doc>', None),
}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_names_outside_ascii_the_byte_filter_missed_are_refused(
    pki: Pki, xmlsec1: Xmlsec1, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Found while making the non-ASCII check faster (issue 19): the strict signer signed these
    # and the strict verifier accepted them, while signxml refuses each (malformed, or a digest
    # mismatch for the instruction's text, which its ASCII copy writes as references).
    xml, raw = HIDDEN[name]
    doc = etree.fromstring(xml.encode())
    c = pki.city
    with pytest.raises(SigningError, match="ASCII"):
        sign_strict(doc, c.key, c.cert, c.intermediates, when(pki))
    monkeypatch.setattr("signing.strict_sign.non_ascii_name", lambda root, utf8: None)
    data = signed(pki, doc)
    monkeypatch.undo()
    if raw is not None:
        data = data.replace(b'b="&gt;"', raw)
    verdicts = both(data, pki.validator, "640100", pki.now)
    assert not verdicts.signxml.valid
    assert verdicts.strict.codes == ("malformed-signature",)
    assert "ASCII" in verdicts.strict.findings[0].message


# The signed document, parsed when read --------------------------------------------------------


def _no_parse(data: bytes, *, max_bytes: int) -> etree._Element:
    raise AssertionError("the signed document was parsed again")


def test_the_verified_tree_is_handed_over_not_parsed_again(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    verdicts = both(receipt(pki), pki.validator, "640100", pki.now)
    assert verdicts.strict.valid and verdicts.strict.signed is not None
    data = verdicts.strict.signed.data
    assert b"Signature" not in data and data.startswith(b"<")
    monkeypatch.setattr("signing.result.parse_untrusted", _no_parse)
    root = verdicts.strict.signed_root
    assert root is not None and root is verdicts.strict.signed_root
    assert etree.tostring(root, method="c14n", with_comments=True) == data
    assert verdicts.signxml.signed_root is not None
    assert etree.tostring(root, method="c14n") == etree.tostring(
        verdicts.signxml.signed_root, method="c14n"
    )


def test_the_signature_leaves_its_tail_text_where_it_was(pki: Pki) -> None:
    # The enveloped transform removes the element, not the text after it: moved to follow
    # <Amount>, the signature carries the whitespace that stood there, and the signed document
    # is the same without it.
    doc = sample_document()
    etree.indent(doc)
    data = signed(pki, doc)
    start = data.index(b"<ds:Signature")
    end = data.index(b"</ds:Signature>") + len(b"</ds:Signature>")
    signature, rest = data[start:end], data[:start] + data[end:]
    at = rest.index(b"</Amount>") + len(b"</Amount>")
    moved = rest[:at] + signature + rest[at:]
    verdicts = both(moved, pki.validator, "640100", pki.now)
    assert verdicts.strict.valid and verdicts.strict.signed is not None
    root = verdicts.strict.signed_root
    assert root is not None and root.find(f"{{{DS_NS}}}Signature") is None
    assert root[0].tail == "\n  "
    assert etree.tostring(root, method="c14n") == verdicts.strict.signed.data


@pytest.mark.parametrize("where", ["inside", "before", "after"])
def test_a_comment_makes_the_canonical_bytes_parsed(pki: Pki, where: str) -> None:
    # lxml's .text stops at a comment, which the canonical form drops: "12<!-- -->.50" is
    # 12.50 signed, "12" in the verified tree. Such a tree is not handed over.
    data = receipt(pki)
    if where == "inside":
        data = data.replace(b"<Amount>12", b"<Amount>12<!-- 99 -->", 1)
    elif where == "before":
        data = data.replace(b"?>\n", b"?>\n<!-- 99 -->", 1)
    else:
        data += b"<!-- 99 -->"
    result = both(data, pki.validator, "640100", pki.now).strict
    assert result.valid and result.signed_root is not None
    assert result.signed_root.findtext("{urn:test}Amount") == "12.50"
    assert "<!--" not in etree.tostring(result.signed_root.getroottree(), encoding="unicode")


def test_what_could_not_be_read_back_is_refused_when_verifying(pki: Pki) -> None:
    # parse_untrusted refuses the bytes "<!DOCTYPE" anywhere; a processing instruction inside
    # the root carries them into the canonical form (UTF-8) from a UTF-32 document, whose bytes
    # do not hold them: refused when verifying, not later when a caller reads the tree.
    doc = etree.fromstring(b'<Doc xmlns="urn:t"><?pi <!DOCTYPE x?><A>1</A></Doc>')
    utf32 = etree.tostring(etree.fromstring(signed(pki, doc)), encoding="UTF-32")
    assert isinstance(utf32, bytes) and b"<!DOCTYPE" not in utf32
    verdicts = both(utf32, pki.validator, "640100", pki.now)
    assert verdicts.strict.codes == ("malformed-signature",)
    assert "read back" in verdicts.strict.findings[0].message
