"""Receipt XML: building, schema, parsing back, hardened parsing."""

from __future__ import annotations

import string
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receipts.domain.enums import PayerKind
from receipts.domain.model import Item, Payer, QRSeal, Receipt
from receipts.domain.xmlcodec import parse_receipt_xml, qr_payload, receipt_to_element, serialize
from receipts.errors import InvalidReceipt
from signing.xmlparse import MAX_XML_BYTES, MIN_BYTES_PER_TAG, UnsafeXML, parse_untrusted
from tests.data.generate_samples import samples
from tests.support.factories import make_receipt, make_reversal
from tests.support.skips import need_tool

DATA = Path(__file__).parent / "data"
SCHEMA = Path(__file__).parent.parent / "schemas" / "receipt.xsd"


def test_good_samples_are_exactly_what_the_code_writes() -> None:
    for name, data in samples().items():
        assert (DATA / "good" / name).read_bytes() == data, name


def test_samples_parse_back_to_the_model() -> None:
    normal = make_receipt()
    assert parse_receipt_xml((DATA / "good" / "normal.xml").read_bytes()) == normal
    reversal = parse_receipt_xml((DATA / "good" / "reversal.xml").read_bytes())
    assert reversal == make_reversal(normal)
    assert reversal.total == Decimal("-3409.50")
    assert reversal.capitals == "负叁仟肆佰零玖元伍角整"


def test_xmllint_accepts_the_samples() -> None:
    xmllint = need_tool("xmllint", "libxml2-utils")
    files = sorted(str(p) for p in (DATA / "good").glob("*.xml"))
    result = subprocess.run(
        [xmllint, "--noout", "--schema", str(SCHEMA), *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_sealed_receipt_round_trips_and_gives_the_qr_payload() -> None:
    receipt = make_receipt(seal=QRSeal("0a1b2c3d", "A" * 86))
    assert parse_receipt_xml(serialize(receipt_to_element(receipt))) == receipt
    assert qr_payload(receipt, "0a1b2c3d") == (
        b"UDR1|64710126|0000000001|k3x9q2|20261128|3409.50|640100|0a1b2c3d"
    )


def test_oversize_xml_is_refused() -> None:
    data = b"<a>" + b"x" * MAX_XML_BYTES + b"</a>"
    with pytest.raises(UnsafeXML, match="1,000,007 bytes; at most 1,000,000"):
        parse_untrusted(data)
    with pytest.raises(InvalidReceipt, match="at most 1,000,000"):
        parse_receipt_xml(data)


def test_a_large_document_dense_in_tags_is_refused_before_it_is_parsed() -> None:
    """Over MAX_XML_BYTES (a manifest's allowance), tags are held to one in MIN_BYTES_PER_TAG
    bytes: 16 MiB of empty elements took ~0.5 GB of lxml's memory before any signature check."""
    tags = MAX_XML_BYTES // 4
    dense = b"<m>" + b"<a/>" * tags + b"</m>"
    with pytest.raises(UnsafeXML, match=f"{tags + 2:,} tags is refused"):
        parse_untrusted(dense, max_bytes=2 * MAX_XML_BYTES)
    # What our manifests are made of (~115 bytes a tag) parses at any allowed size.
    entry = b'<Member path="receipts/64710126-0000000001.xml" digest="' + b"0" * 64 + b'"/>\n'
    listing = b"<m>" + entry * (2 * MAX_XML_BYTES // len(entry)) + b"</m>"
    assert len(parse_untrusted(listing, max_bytes=3 * MAX_XML_BYTES)) > 10_000
    # At MAX_XML_BYTES and below the size alone bounds the memory.
    assert len(parse_untrusted(b"<m>" + b"<a/>" * 249_990 + b"</m>")) == 249_990
    assert len(entry) // 2 >= MIN_BYTES_PER_TAG


def test_utf16_doctype_is_refused() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
    with pytest.raises(UnsafeXML, match="DOCTYPE"):
        parse_untrusted(doc.encode("utf-16-le"))


# Characters XML 1.0 can carry and our text fields accept (no controls, no surrogates).
_TEXT = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
_AMOUNT = st.integers(min_value=1, max_value=10**12).map(lambda fen: Decimal(fen) / 100)


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    count = draw(st.integers(min_value=1, max_value=8))
    items = tuple(
        Item(
            code=draw(st.sampled_from(["01", "02", "03", "99", "1234"])),
            name=draw(_TEXT),
            period=f"{draw(st.integers(2000, 2099))}-{draw(st.integers(1, 12)):02d}",
            amount=draw(_AMOUNT),
        )
        for _ in range(count)
    )
    offset = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    issued = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
    issued = issued.replace(microsecond=0, tzinfo=offset)
    kind = draw(st.sampled_from(list(PayerKind)))
    payer = Payer(
        draw(_TEXT),
        kind,
        other_id=draw(st.none() | st.from_regex(r"[0-9A-Za-z\-]{1,32}", fullmatch=True)),
    )
    return make_receipt(
        code=f"64{draw(st.sampled_from(['71', '72']))}01{issued.year % 100:02d}",
        number=draw(st.integers(1, 9_999_999_999)),
        check_code=draw(st.text(string.digits + string.ascii_lowercase, min_size=6, max_size=6)),
        issued_at=issued,
        payer=payer,
        items=items,
        handler=draw(_TEXT),
        reviewer=draw(_TEXT),
        remark=draw(st.just("") | _TEXT),
    )


@given(receipts())
def test_model_xml_model_round_trip(receipt: Receipt) -> None:
    for pretty in (False, True):
        assert parse_receipt_xml(serialize(receipt_to_element(receipt), pretty=pretty)) == receipt
