"""The strict verifier against signxml and xmlsec1 on Hypothesis-made documents: mutations of
signed receipts, and whatever the strict signer signs (tests/test_strict_differential.py has the
corpus and the settled disagreements; the rule is the same: strict never accepts what a reference
refuses)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.support.pki import Pki
from tests.support.strict_differential import (
    Xmlsec1,
    both,
    judge,
    receipt,
    signed,
    with_timestamp_element,
)
from tests.support.strict_differential import xmlsec1 as xmlsec1_fixture

xmlsec1 = xmlsec1_fixture

DATA = Path(__file__).parent / "data"
DS = "http://www.w3.org/2000/09/xmldsig#"


# Mutations of signed receipts (Hypothesis) ----------------------------------------------------

_START_TAG_END = re.compile(rb"(?<=[^-?/])(/?>)")
_BETWEEN_TAGS = re.compile(rb">(?=\s*<)")


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _pick(draw: st.DrawFn, items: list[etree._Element]) -> etree._Element:
    return items[draw(st.integers(0, len(items) - 1))]


def _on_tree(change: Callable[[st.DrawFn, etree._Element], None]) -> Callable[..., bytes]:
    def mutate(draw: st.DrawFn, data: bytes) -> bytes:
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError:
            return data
        change(draw, root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return mutate


def _move(draw: st.DrawFn, root: etree._Element) -> None:
    moving = _pick(draw, _elements(root)[1:])
    targets = [e for e in _elements(root) if e is not moving and moving not in e.iterancestors()]
    target = _pick(draw, targets)
    target.insert(draw(st.integers(0, len(target))), moving)


def _duplicate(draw: st.DrawFn, root: etree._Element) -> None:
    original = _pick(draw, _elements(root)[1:])
    original.addnext(copy.deepcopy(original))


def _remove(draw: st.DrawFn, root: etree._Element) -> None:
    gone = _pick(draw, _elements(root)[1:])
    parent = gone.getparent()
    if parent is not None:
        parent.remove(gone)


def _renamespace(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    namespace = draw(st.sampled_from([DS, "urn:test", "urn:evil", "http://uri.etsi.org/01903#"]))
    element.tag = f"{{{namespace}}}{etree.QName(element).localname}"


def _reorder_attributes(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, [e for e in _elements(root) if len(e.attrib) > 1] or [root])
    items = list(element.attrib.items())
    element.attrib.clear()
    for name, value in reversed(items):
        element.set(name, value)


def _strip_whitespace(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    if draw(st.booleans()):
        element.text = (element.text or "").strip() or None
    else:
        element.tail = (element.tail or "").strip() or None


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


def _insert_between_tags(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.end() for m in _BETWEEN_TAGS.finditer(data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    text = draw(st.sampled_from([b" ", b"\n", b"\n  ", b"\t", b"<!-- c -->", b"<?pi x?>", b"x"]))
    return data[:at] + text + data[at:]


def _insert_in_text(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.end() for m in re.finditer(rb">[^<\s]", data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    text = draw(st.sampled_from([b" ", b"\n", b"<!-- c -->", b"&#x20;", b"\r\n"]))
    return data[:at] + text + data[at:]


def _insert_attribute(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.start() for m in _START_TAG_END.finditer(data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    attribute = draw(
        st.sampled_from(
            [
                b' xmlns=""',
                b' xmlns="urn:evil"',
                b' xmlns:evil="urn:evil"',
                b' xmlns:ds="http://www.w3.org/2000/09/xmldsig#"',
                b' xml:lang="zh"',
                b' xml:space="preserve"',
                b' Id="SignXMLCertificate00000000"',
                b' extra="1"',
            ]
        )
    )
    return data[:at] + attribute + data[at:]


def _rename_prefix(draw: st.DrawFn, data: bytes) -> bytes:
    prefix = draw(st.sampled_from([b"ds", b"xades"]))
    return data.replace(prefix + b":", b"p0:").replace(b"xmlns:" + prefix + b"=", b"xmlns:p0=")


def _outside_root(draw: st.DrawFn, data: bytes) -> bytes:
    extra = draw(st.sampled_from([b"<!-- after -->", b"<?after x?>", b"\n"]))
    return data + extra


MUTATIONS: dict[str, Callable[..., bytes]] = {
    "flip": _flip,
    "move": _on_tree(_move),
    "duplicate": _on_tree(_duplicate),
    "remove": _on_tree(_remove),
    "namespace": _on_tree(_renamespace),
    "prefix": _rename_prefix,
    "reorder-attributes": _on_tree(_reorder_attributes),
    "strip-whitespace": _on_tree(_strip_whitespace),
    "between-tags": _insert_between_tags,
    "in-text": _insert_in_text,
    "attribute": _insert_attribute,
    "outside-root": _outside_root,
}


@dataclass
class _Bases:
    documents: list[bytes]


@pytest.fixture(scope="module")
def bases(pki: Pki) -> _Bases:
    signed_receipt = receipt(pki)
    good = signed(pki, etree.fromstring((DATA / "good" / "normal.xml").read_bytes()))
    return _Bases([signed_receipt, with_timestamp_element(signed_receipt), good])


def _mutation_property(pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject) -> None:
    document = bases.documents[data.draw(st.integers(0, len(bases.documents) - 1))]
    names = data.draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    for name in names:
        document = MUTATIONS[name](data.draw, document)
    verdicts = judge(document, pki.validator, xmlsec1, now=pki.now)
    event(f"strict {'accepts' if verdicts.strict.valid else 'refuses'}")
    if verdicts.signxml.valid and not verdicts.strict.valid:
        event(f"stricter than signxml: {verdicts.strict.codes}")


_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_mutations_of_signed_receipts(
    pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject
) -> None:
    _mutation_property(pki, xmlsec1, bases, data)


@pytest.mark.slow
@settings(max_examples=1500, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_mutations_of_signed_receipts_at_length(
    pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject
) -> None:
    _mutation_property(pki, xmlsec1, bases, data)


# The signer's output on generated documents ---------------------------------------------------

_XML_TEXT = st.text(
    st.characters(
        min_codepoint=0x20, max_codepoint=0xFFFD, categories=("L", "M", "N", "P", "S", "Zs")
    )
    | st.sampled_from("\t\n\r 　"),
    max_size=12,
)
# ASCII names only: the signer refuses others (test_non_ascii_names_are_refused).
_NAMES = st.sampled_from(["A", "B", "{urn:test}C", "{urn:other}D", "{urn:test}E"])


@st.composite
def documents(draw: st.DrawFn) -> etree._Element:
    """Small documents with namespaces, attributes, mixed text, comments and PIs inside."""
    root = etree.Element(draw(st.sampled_from(["{urn:test}Doc", "Doc"])))
    elements = [root]
    for _ in range(draw(st.integers(0, 8))):
        parent = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["element", "element", "comment", "pi"]))
        if kind == "comment":
            parent.append(etree.Comment(draw(st.sampled_from([" c ", "注释"]))))
            continue
        if kind == "pi":
            parent.append(etree.ProcessingInstruction("pi", draw(st.sampled_from(["", "x=1"]))))
            continue
        child = etree.SubElement(parent, draw(_NAMES))
        for name in draw(st.lists(st.sampled_from(["a", "b", "{urn:x}c"]), unique=True)):
            child.set(name, draw(_XML_TEXT))
        child.text = draw(st.none() | _XML_TEXT)
        child.tail = draw(st.none() | _XML_TEXT)
        elements.append(child)
    return root


def _signer_property(pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element) -> None:
    data = signed(pki, doc)
    verdicts = both(data, pki.validator, "640100", pki.now)
    assert verdicts.strict.valid, verdicts.strict.findings
    assert verdicts.signxml.valid, verdicts.signxml.findings
    assert xmlsec1.refusal(data) is None


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(doc=documents())
def test_what_the_strict_signer_signs_verifies_everywhere(
    pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element
) -> None:
    _signer_property(pki, xmlsec1, doc)


@pytest.mark.slow
@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(doc=documents())
def test_what_the_strict_signer_signs_verifies_everywhere_at_length(
    pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element
) -> None:
    _signer_property(pki, xmlsec1, doc)
