"""The strict verifier's byte-level shortcuts give the answers of the scans they replace
(signing/strict_shape.py's Id count, signing/strict_common.py's non-ASCII name check)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from signing.strict_common import non_ascii_name
from signing.strict_shape import _ID_ENDINGS, _MAX_EQUALS, _id_like_count

# Bytes built from the characters that matter to the count, and others.
_PIECES = st.sampled_from([b"d", b"D", b" ", b"\t", b"\n", b"\r", b"=", b"==", b"x", b"d=d="])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=80).map(b"".join))
def test_id_like_count_is_the_six_counts(source: bytes) -> None:
    expected = sum(map(source.count, _ID_ENDINGS))
    big = len(source) + 1
    if source.count(b"=") < _MAX_EQUALS:
        assert _id_like_count(source, big) == expected
    # Stopping early only ever says "more than enough", and says it whenever there are more.
    for enough in range(4):
        found = _id_like_count(source, enough)
        if expected > enough:
            assert found > enough
        elif source.count(b"=") < _MAX_EQUALS:
            assert found == expected


def test_too_many_equals_signs_mean_more_than_enough() -> None:
    source = b"x=" * (_MAX_EQUALS + 1)
    assert sum(map(source.count, _ID_ENDINGS)) == 0
    assert _id_like_count(source, 4) > 4
    assert _id_like_count(b"x=" * 10 + b'<a Id="1"/>', 4) == 1


def test_a_bang_or_question_mark_in_text_keeps_the_byte_answer() -> None:
    # '!' and '?' in text (not "<!" or "<?"): the byte filter still answers, and rightly.
    data = '<r a="是?!"><b>好!?</b></r>'.encode()
    assert non_ascii_name(etree.fromstring(data), data) is None
    bad = "<r><b>!</b><名/></r>".encode()
    assert non_ascii_name(etree.fromstring(bad), bad) == "名"
    with_pi = "<r><?名 x?><b>!</b></r>".encode()
    assert non_ascii_name(etree.fromstring(with_pi), with_pi) == "<?名 x?>"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("<r><名>x</名></r>", "名"),
        ('<r a=">" 名="1">文!</r>', "名"),
        ("<r a='>' 名='1'>文?</r>", "名"),
        ('<r xmlns:名="urn:x"><b>文!</b></r>', "名"),
        ('<r a="值">文<b/>文!</r>', None),
        ("<r a=\"x>y\">文?<b c='1'/>字</r>", None),
    ],
)
def test_names_outside_ascii_are_found_beside_bangs_and_question_marks(
    document: str, expected: str | None
) -> None:
    data = document.encode()
    assert non_ascii_name(etree.fromstring(data), data) == expected


_NAMES = st.sampled_from(["a", "b", "名", "x名"])
_VALUES = st.text(alphabet=">\"'a 名!?", max_size=4)
_TEXTS = st.text(alphabet=">\"'a 名!?", max_size=4)


@st.composite
def _elements(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed XML with names, attribute values and text in and outside ASCII, and quote
    marks, '>', '!' and '?' wherever XML allows them."""
    name = draw(_NAMES)
    attributes = ""
    for index, attribute in enumerate(draw(st.lists(_NAMES, max_size=3, unique=True))):
        quote = draw(st.sampled_from(['"', "'"]))
        value = draw(_VALUES).replace(quote, "")
        attributes += f" {attribute}{index}={quote}{value}{quote}"
    children = draw(st.lists(_elements(depth + 1), max_size=0 if depth > 2 else 3))
    text = draw(_TEXTS)
    return f"<{name}{attributes}>{text}{''.join(children)}{text}</{name}>"


@settings(max_examples=400, deadline=None)
@given(_elements())
def test_the_byte_filter_answers_as_the_tree_walk(document: str) -> None:
    body = document.encode()
    root = etree.fromstring(body)
    assert non_ascii_name(root, body) == non_ascii_name(root)
