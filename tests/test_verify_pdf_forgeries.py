"""Forged receipt PDFs found by an adversarial review (session 12): each verified VALID while
the page showed something else, or cost the verifier gigabytes (docs/security.md, "Reading PDFs
defensively")."""

from __future__ import annotations

import io

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from receipts.render.receipt_pdf import render_pdf
from receipts.verify.pdf import verify_pdf
from receipts.verify.pdf_fonts import CHECKED_GLYPHS
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml
from tests.test_verify_pdf_content import TOTAL, _codes_of, _edit, codes, copy_glyph


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(good_xml())


def test_a_payers_name_redrawn_with_other_glyphs_is_a_font_glyph_mismatch(pdf: bytes) -> None:
    """Only the characters of amounts had their shapes compared: the payer's name redrawn with
    the glyphs of other characters of the same width read as the genuine name."""

    def redraw(doc: pikepdf.Pdf) -> None:
        codes = _codes_of(doc)
        chinese = sorted(c for c in codes if "\u4e00" <= c <= "\u9fff" and c not in CHECKED_GLYPHS)
        copy_glyph(doc, chinese[1], chinese[0])

    assert codes(_edit(pdf, redraw), "content") == ["pdf-font-glyph-mismatch"]


def test_a_code_mapped_to_a_whole_line_is_refused(pdf: bytes) -> None:
    """One code read as "¥3409.50" matched no character of the reference font, so its glyph
    and width went unjudged: one glyph could draw any amount over the right text."""

    def whole_line(doc: pikepdf.Pdf) -> None:
        resource, _ = _codes_of(doc)["1"]
        font = doc.pages[0].Resources.Font[resource]
        line = TOTAL.encode("utf-16-be").hex().upper().encode()
        font.ToUnicode.write(font.ToUnicode.read_bytes().replace(b"<0031>", b"<" + line + b">"))

    assert "pdf-font-not-embedded" in codes(_edit(pdf, whole_line), "content")


def test_a_symbolic_windows_character_map_is_refused(pdf: bytes) -> None:
    """A (3,0) map is read at 0xF000 + code as well, where the check did not look: a glyph
    there is what a reader draws."""

    def windows_map(doc: pikepdf.Pdf) -> None:
        for _, font in doc.pages[0].Resources.Font.items():
            program = TTFont(io.BytesIO(font.FontDescriptor.FontFile2.read_bytes()))
            table = program["cmap"].tables[0]
            table.platformID, table.platEncID = 3, 0
            out = io.BytesIO()
            program.save(out)
            font.FontDescriptor.FontFile2.write(out.getvalue())

    assert "pdf-font-not-embedded" in codes(_edit(pdf, windows_map), "content")


def test_a_page_content_listed_again_and_again_inflates_to_a_bounded_size(pdf: bytes) -> None:
    """Each stream of a /Contents array was capped on its own: one compressed stream of spaces
    listed a thousand times inflated to gigabytes from a 45 KB upload."""
    import zlib

    def padded(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        spaces = pikepdf.Stream(doc, zlib.compress(b" " * 900_000))
        spaces.Filter = pikepdf.Name.FlateDecode
        page.Contents = pikepdf.Array([page.Contents, *([spaces] * 1000)])

    forged = _edit(pdf, padded)
    assert len(forged) < 100_000
    result = verify_pdf(forged, build_pki().validator, "x.pdf", method="content")
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "pdf-overlay",
            "the page cannot be read: the page's content inflates to more than 1,000,000 bytes "
            "in all",
        )
    ]


def test_a_text_object_inside_another_graphics_state_is_an_overlay(pdf: bytes) -> None:
    """A line moved into a text object inside the seal's state is drawn with that state's
    matrix and colour (0.75 % of its size, rotated, red): the lines, compared by position,
    read the same, and the row was gone from the page."""

    def nest(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        content = page.Contents.read_bytes()
        frame = b"538.58 238.00 re S Q"
        assert frame in content
        page.Contents.write(content.replace(frame, b"538.58 238.00 re S q BT ET Q Q"))

    result = verify_pdf(_edit(pdf, nest), build_pki().validator, "x.pdf", method="content")
    messages = [f.message for f in result.findings if f.code == "pdf-overlay"]
    assert "the page has a text object inside a graphics state of the page's" in messages


def test_a_second_attachment_is_refused(pdf: bytes) -> None:
    """Another receipt's XML attached beside the verified one: a viewer, or pdfdetach, may
    show that one first."""

    def attach(doc: pikepdf.Pdf) -> None:
        doc.attachments["../../receipt.xml"] = pikepdf.AttachedFileSpec(doc, b"<other/>")

    result = verify_pdf(_edit(pdf, attach), build_pki().validator, "x.pdf", method="content")
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "invalid-pdf",
            "the PDF's attached files are '../../receipt.xml', 'receipt.xml'; a receipt carries "
            "one, receipt.xml",
        )
    ]
