"""Verification by content keeps what it reads of one PDF from deciding another's (the caches
of issue 18's performance work: pieces of pages by their bytes, font programs by their
SHA-256), and a QR code drawn with impossible numbers is a finding, not a traceback."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from receipts.render.receipt_pdf import render_pdf
from receipts.verify.pdf import verify_pdf
from receipts.verify.pdf_fonts import program_facts, read_fonts
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(good_xml())


def codes(data: bytes) -> list[str]:
    result = verify_pdf(data, build_pki().validator, "x.pdf", method="content")
    return [f.code for f in result.findings]


def _edit(data: bytes, change: Callable[[pikepdf.Pdf], None]) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as doc:
        change(doc)
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def _content(change: Callable[[bytes], bytes]) -> Callable[[pikepdf.Pdf], None]:
    def edit(doc: pikepdf.Pdf) -> None:
        doc.pages[0].Contents.write(change(doc.pages[0].Contents.read_bytes()))

    return edit


def test_a_qr_module_at_an_infinite_place_is_a_qr_finding(pdf: bytes) -> None:
    """A number of 400 digits is infinite as a float: the code is then read operator by
    operator, and its modules are not whole numbers."""

    def infinite(content: bytes) -> bytes:
        first = re.search(rb"cm\n(\d+) (\d+) (\d+) 1 re\n", content)
        assert first is not None
        x, y, w = first.groups()
        return (
            content[: first.start(1)]
            + b"%s %s %s 1.0 re\n%s 0 1 1 re\n" % (x, y, w, b"9" * 400)
            + content[first.end() :]
        )

    assert codes(_edit(pdf, _content(infinite))) == ["pdf-qr-mismatch"]


def test_a_seal_drawn_otherwise_is_caught_after_the_genuine_seal_was_read(pdf: bytes) -> None:
    """The genuine page's pieces are kept; another piece is read for itself."""
    assert codes(pdf) == []

    def seal(content: bytes) -> bytes:
        cut = content.rindex(b" cm ") + 4
        return content[:cut] + b"1 " + content[cut:]  # one more number in the last glyph

    assert codes(_edit(pdf, _content(seal))) == ["pdf-overlay"]
    assert codes(pdf) == []


def test_a_doctored_font_is_caught_after_the_genuine_font_was_read(pdf: bytes) -> None:
    """The facts of the genuine program are kept by its digest; the doctored program's bytes
    differ, so its own facts are read, and the glyph check sees the 7 drawn for a 1."""
    assert codes(pdf) == []

    def doctor(doc: pikepdf.Pdf) -> None:
        fonts, _ = read_fonts(doc.pages[0].Resources)
        (font,) = fonts.fonts.values()
        one = next(code for code, char in font.to_unicode.items() if char == "1")
        seven = next(code for code, char in font.to_unicode.items() if char == "7")
        stream = doc.pages[0].Resources.Font[font.resource].FontDescriptor.FontFile2
        program = TTFont(io.BytesIO(stream.read_bytes()))
        glyphs = program["cmap"].tables[0].cmap
        program["glyf"][glyphs[one]] = program["glyf"][glyphs[seven]]
        out = io.BytesIO()
        program.save(out)
        stream.write(out.getvalue())

    assert codes(_edit(pdf, doctor)) == ["pdf-font-glyph-mismatch"]
    assert codes(pdf) == []


def test_a_program_that_cannot_be_read_is_never_kept(pdf: bytes) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        fonts, _ = read_fonts(doc.pages[0].Resources)
    (font,) = fonts.fonts.values()
    damaged = font.font_file[:200]
    for _ in range(2):  # the second time reads again, and fails again
        with pytest.raises(Exception):  # noqa: B017 (fontTools' errors vary)
            program_facts(damaged)
    assert program_facts(font.font_file) is program_facts(font.font_file)
