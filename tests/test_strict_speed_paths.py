"""The strict verifier's shortcuts (issue 19, item 1) do less work and give the same answers.

Counted, not timed: the walk reads no attribute query for our own documents when it has their
bytes, and still finds an Id given twice however the second is written; the chain validator
finds a chain it built before by the certificates' identities and still judges each call's
time; the non-ASCII name check answers ASCII bytes without a search.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

import signing.strict_shape as strict_shape
from signing.strict_common import non_ascii_name
from signing.strict_shape import StrictShape, _walk, inspect_strict
from signing.trust import ChainValidator
from signing.xmlparse import parse_untrusted
from signing.xmlprofile import inspect_signature
from tests.support.pki import Pki
from tests.support.strict_differential import both, receipt


def _count_id_queries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    query = strict_shape._ID_VALUES

    def counted(root: etree._Element) -> object:
        calls.append(1)
        return query(root)

    monkeypatch.setattr(strict_shape, "_ID_VALUES", counted)
    return calls


def test_our_own_document_needs_no_attribute_query(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = receipt(pki)
    root = parse_untrusted(data)
    calls = _count_id_queries(monkeypatch)
    assert isinstance(_walk(root, data), StrictShape)
    assert calls == []
    assert isinstance(_walk(root), StrictShape)  # without the bytes: the query, as before
    assert calls == [1]


def _key_info_id(data: bytes) -> str:
    shape = inspect_strict(parse_untrusted(data))
    assert isinstance(shape, StrictShape) and shape.parts is not None
    key_info_id = shape.parts.key_info.get("Id")
    assert key_info_id
    return str(key_info_id)


# A second attribute carrying KeyInfo's Id, written every way an Id attribute can be.
SECOND_ID = {
    "plain": 'Id="{}"',
    "upper": 'ID="{}"',
    "lower": 'id="{}"',
    "prefixed": 'x:Id="{}" xmlns:x="urn:x"',
    "space before =": 'Id ="{}"',
    "tab before =": 'Id\t="{}"',
    "newline before =": 'Id\n="{}"',
    "single quotes": "Id='{}'",
}


@pytest.mark.parametrize("how", sorted(SECOND_ID))
def test_an_id_given_twice_is_still_found(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    data = receipt(pki)
    attribute = SECOND_ID[how].format(_key_info_id(data))
    # On the document's first child, outside the signature.
    start = data.index(b"<", data.index(b"?>") + 2)  # the root's start tag
    child = data.index(b"<", start + 1)
    end = data.index(b">", child)
    if data[end - 1 : end] == b"/":
        end -= 1
    mutated = data[:end] + b" " + attribute.encode() + data[end:]
    root = parse_untrusted(mutated)
    assert _walk(root, mutated) is None
    refused = inspect_signature(root)
    assert inspect_strict(root, mutated) == refused
    verdicts = both(mutated, pki.validator, "640100", pki.now)
    assert not verdicts.strict.valid and not verdicts.signxml.valid


def test_a_known_chain_is_found_by_identity_and_its_times_judged_per_call(pki: Pki) -> None:
    validator = ChainValidator(
        pki.bundle,
        issuer_may_certify=pki.validator.issuer_may_certify,
        require_crl=pki.validator.require_crl,
    )
    c = pki.city
    first = validator.validate(c.cert, c.intermediates, at=pki.now)
    assert first.ok

    class NoLookUps(dict[object, object]):
        def get(self, key: object, default: object = None) -> object:
            raise AssertionError("the chain was looked up by value (hashing certificates)")

    validator._cache = NoLookUps(validator._cache)  # type: ignore[arg-type,assignment]
    assert validator.validate(c.cert, c.intermediates, at=pki.now) == first
    late = c.cert.not_valid_after_utc + timedelta(days=1)
    early = c.cert.not_valid_before_utc - timedelta(days=1)
    for at, code in ((late, "expired-at-signing"), (early, "not-yet-valid-at-signing")):
        findings = validator.validate(c.cert, c.intermediates, at=at).findings
        assert code in [finding.code for finding in findings]


def test_ascii_bytes_need_no_search(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    data = receipt(pki).decode().encode("ascii", "xmlcharrefreplace")
    assert data.isascii()
    root = parse_untrusted(data)

    class NoSearch:
        def search(self, _: bytes) -> None:
            raise AssertionError("searched ASCII bytes for non-ASCII names")

    monkeypatch.setattr("signing.strict_common._NON_ASCII_TAG", NoSearch())
    assert non_ascii_name(root, data) is None
    assert both(data, pki.validator, "640100", pki.now).strict.valid
