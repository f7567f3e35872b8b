"""One decoding rule for the files the product reads: UTF-8 (BOM or not), then GB 18030, or the
encoding the user names; the first undecodable byte is reported by file, line and column."""

from __future__ import annotations

import codecs

import pytest

from receipts.errors import InvalidInput
from receipts.support.text import UndecodableText, decode_text

TEXT = "client_ref,payer_name\r\n2026-10/001,宁夏贺兰山实业有限公司\r\n"


def test_utf8_with_or_without_bom() -> None:
    assert decode_text(TEXT.encode("utf-8"), "f.csv") == TEXT
    assert decode_text(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "f.csv") == TEXT


def test_gbk_decodes_as_gb18030_to_the_same_text() -> None:
    data = TEXT.encode("gbk")
    assert decode_text(data, "f.csv") == TEXT
    assert decode_text(data, "f.csv", "gbk") == TEXT
    assert decode_text(data, "f.csv", "GB18030") == TEXT


def test_characters_only_gb18030_has() -> None:
    # 𠈌 (U+2020C, in personal names) is outside GBK; GB 18030 encodes it in four bytes.
    name = "王𠈌"
    data = f"payer_name\n{name}\n".encode("gb18030")
    assert len("𠈌".encode("gb18030")) == 4
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    assert decode_text(data, "f.csv") == f"payer_name\n{name}\n"
    with pytest.raises(UndecodableText, match=r"^f\.csv:2:2: bytes invalid in gbk$"):
        decode_text(data, "f.csv", "gbk")


def test_a_gb18030_byte_order_mark_is_dropped_too() -> None:
    assert decode_text("\ufeff甲,乙\n".encode("gb18030"), "f.csv") == "甲,乙\n"


def test_undecodable_byte_named_by_file_line_and_column() -> None:
    with pytest.raises(UndecodableText) as caught:
        decode_text(b"date,amount\r\n2026-10-08,\xff\xff\n", "s.csv")
    error = caught.value
    assert str(error) == "s.csv:2:12: bytes invalid in utf-8 (not gb18030 either)"
    assert (error.name, error.line, error.column) == ("s.csv", 2, 12)
    assert error.reason == "bytes invalid in utf-8 (not gb18030 either)"
    assert isinstance(error, InvalidInput) and error.exit_code == 2


def test_the_encoding_that_got_furthest_is_reported() -> None:
    # UTF-8 fails on the first Chinese character, GB 18030 only on the damaged byte of line 3.
    data = "甲,乙\n丙,丁\n戊,".encode("gb18030") + b"\xff\n"
    with pytest.raises(UndecodableText, match=r"^f:3:3: bytes invalid in gb18030 \(not utf-8"):
        decode_text(data, "f")


def test_the_column_counts_characters_not_bytes() -> None:
    data = "银川市,".encode() + b"\xc3("
    with pytest.raises(UndecodableText, match=r"^f:1:5: bytes invalid in utf-8$"):
        decode_text(data, "f", "utf-8")


def test_a_named_encoding_is_the_only_one_tried() -> None:
    gbk = TEXT.encode("gbk")
    with pytest.raises(UndecodableText, match=r"^f:2:13: bytes invalid in utf-8$"):
        decode_text(gbk, "f", "utf-8-sig")
    assert decode_text(codecs.BOM_UTF8 + b"a\n", "f", "utf-8") == "a\n"
    with pytest.raises(InvalidInput, match=r"^unknown encoding 'klingon'$"):
        decode_text(b"", "f", "klingon")
