"""Verification by content catches each way of changing what a reader sees, each with its own
finding (issue 18, item 1, "Done when"), and a PDF issued with a fuller font verifies with the
default configuration (item 3)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from receipts.domain.model import Payer
from receipts.render.errors import FontCoverageError
from receipts.render.receipt_pdf import check_printable, render_pdf
from receipts.verify.pdf import Method, verify_pdf
from receipts.verify.pdf_fonts import read_fonts
from tests.support.pdf import normal_receipt, sign_receipt
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml
from tests.support.skips import skip_or_fail

FULLER_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
TOTAL = "¥3409.50"


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(good_xml())


def codes(data: bytes, method: Method = "auto") -> list[str]:
    result = verify_pdf(data, build_pki().validator, "x.pdf", method=method)
    return [f.code for f in result.findings]


def _edit(data: bytes, change: Callable[[pikepdf.Pdf], None]) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as doc:
        change(doc)
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def _codes_of(doc: pikepdf.Pdf) -> dict[str, tuple[str, int]]:
    """Character → (font resource, one-byte code) on the page."""
    fonts, _ = read_fonts(doc.pages[0].Resources)
    return {
        char: (font.resource, code)
        for font in fonts.fonts.values()
        for code, char in font.to_unicode.items()
    }


def _encoded(doc: pikepdf.Pdf, text: str) -> bytes:
    codes = _codes_of(doc)
    return bytes(codes[char][1] for char in text)


def copy_glyph(doc: pikepdf.Pdf, source: str, target: str) -> None:
    """The embedded font draws ``source``'s glyph for the code its map calls ``target``."""
    codes = _codes_of(doc)
    resource, one = codes[target]
    _, other = codes[source]
    font = doc.pages[0].Resources.Font[resource]
    program = TTFont(io.BytesIO(font.FontDescriptor.FontFile2.read_bytes()))
    glyphs = program["cmap"].tables[0].cmap
    program["glyf"][glyphs[one]] = program["glyf"][glyphs[other]]
    out = io.BytesIO()
    program.save(out)
    font.FontDescriptor.FontFile2.write(out.getvalue())


def test_the_genuine_pdf_verifies_by_content_and_by_rendering(pdf: bytes) -> None:
    assert codes(pdf, "content") == [] and codes(pdf, "render") == [] and codes(pdf) == []


def test_an_edited_amount_in_the_content_stream_is_a_text_mismatch(pdf: bytes) -> None:
    def edit(doc: pikepdf.Pdf) -> None:
        content = doc.pages[0].Contents.read_bytes()
        old, new = _encoded(doc, TOTAL), _encoded(doc, "¥9409.50")
        assert content.count(b"<" + old.hex().encode() + b">") == 1
        doc.pages[0].Contents.write(
            content.replace(b"<" + old.hex().encode() + b">", b"<" + new.hex().encode() + b">")
        )

    edited = _edit(pdf, edit)
    assert codes(edited) == ["pdf-text-mismatch"]
    message = verify_pdf(edited, build_pki().validator).findings[0].message
    assert "'¥9409.50' where the XML's total is '¥3409.50'" in message


def test_a_doctored_glyph_is_a_font_glyph_mismatch(pdf: bytes) -> None:
    """The embedded font draws 7 for the code its map calls 1: the text reads as the XML's,
    the page shows another amount."""

    def doctor(doc: pikepdf.Pdf) -> None:
        copy_glyph(doc, "7", "1")

    assert codes(_edit(pdf, doctor)) == ["pdf-font-glyph-mismatch"]


def test_a_doctored_width_is_a_font_glyph_mismatch(pdf: bytes) -> None:
    """A 1 with no width would vanish under the next digit."""

    def doctor(doc: pikepdf.Pdf) -> None:
        resource, one = _codes_of(doc)["1"]
        font = doc.pages[0].Resources.Font[resource]
        font.Widths[one - int(font.FirstChar)] = 0

    assert "pdf-font-glyph-mismatch" in codes(_edit(pdf, doctor))


def test_a_swapped_unicode_map_is_caught(pdf: bytes) -> None:
    """The map says 1 where the glyph is 7: the glyph check sees a 7 drawn for a 1."""

    def swap(doc: pikepdf.Pdf) -> None:
        resource, _ = _codes_of(doc)["1"]
        font = doc.pages[0].Resources.Font[resource]
        cmap = font.ToUnicode.read_bytes()
        swapped = cmap.replace(b"<0031>", b"<XXXX>").replace(b"<0037>", b"<0031>")
        font.ToUnicode.write(swapped.replace(b"<XXXX>", b"<0037>"))

    assert "pdf-font-glyph-mismatch" in codes(_edit(pdf, swap))


def test_a_font_that_is_not_embedded_is_caught(pdf: bytes) -> None:
    def strip(doc: pikepdf.Pdf) -> None:
        for _, font in doc.pages[0].Resources.Font.items():  # .values(): pikepdf >= 10.3
            del font.FontDescriptor["/FontFile2"]

    assert "pdf-font-not-embedded" in codes(_edit(pdf, strip))


def test_a_font_remapped_by_an_encoding_is_refused(pdf: bytes) -> None:
    """/Differences would make a reader draw other glyphs for the same codes."""

    def remap(doc: pikepdf.Pdf) -> None:
        for _, font in doc.pages[0].Resources.Font.items():  # .values(): pikepdf >= 10.3
            font.Encoding = pikepdf.Dictionary(Differences=pikepdf.Array([49, pikepdf.Name.seven]))

    assert codes(_edit(pdf, remap)) == ["pdf-font-not-embedded"]


def test_an_annotation_over_the_amount_is_interactive_content(pdf: bytes) -> None:
    def annotate(doc: pikepdf.Pdf) -> None:
        note = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.FreeText,
            Rect=[480, 180, 560, 200],
            Contents=pikepdf.String("¥9409.50"),
            DA=pikepdf.String("0 g /Helv 9 Tf"),
        )
        doc.pages[0].Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(note)]))

    assert codes(_edit(pdf, annotate)) == ["pdf-interactive-content"]


def test_javascript_and_forms_are_interactive_content(pdf: bytes) -> None:
    def script(doc: pikepdf.Pdf) -> None:
        doc.Root.OpenAction = pikepdf.Dictionary(
            S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")
        )
        doc.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array())

    assert codes(_edit(pdf, script)) == ["pdf-interactive-content", "pdf-interactive-content"]


def test_an_overlay_xobject_is_caught(pdf: bytes) -> None:
    def overlay(doc: pikepdf.Pdf) -> None:
        form = pikepdf.Stream(doc, b"1 1 1 rg 480 180 80 20 re f")
        form.Type, form.Subtype, form.BBox = (
            pikepdf.Name.XObject,
            pikepdf.Name.Form,
            [0, 0, 600, 420],
        )
        doc.pages[0].Resources.XObject = pikepdf.Dictionary(Fx=form)
        page = doc.pages[0]
        page.Contents.write(page.Contents.read_bytes() + b"\nq /Fx Do Q\n")

    assert set(codes(_edit(pdf, overlay))) == {"pdf-overlay"}


def test_a_white_box_drawn_over_the_page_is_an_overlay(pdf: bytes) -> None:
    def cover(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        page.Contents.write(page.Contents.read_bytes() + b"\nq 1 1 1 rg 480 180 80 20 re f Q\n")

    assert codes(_edit(pdf, cover)) == ["pdf-overlay"]


def _updated(pdf: bytes, objects: dict[int, bytes]) -> bytes:
    """``pdf`` with an incremental update (PDF 32000 §7.5.6) holding ``objects`` by number."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        trailer = doc.trailer
        size = max(int(trailer.Size), max(objects) + 1)
        root, info = trailer.Root.objgen[0], trailer.Info.objgen[0]
    previous = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    body = bytearray(pdf)
    offsets = {}
    for number, value in sorted(objects.items()):
        offsets[number] = len(body)
        body += b"%d 0 obj\n" % number + value + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n"
    for number, offset in sorted(offsets.items()):
        body += b"%d 1\n%010d 00000 n \n" % (number, offset)
    body += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\n" % (
        size,
        root,
        info,
        previous,
    )
    body += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(body)


def test_an_unsigned_incremental_update_is_caught(pdf: bytes) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        info = doc.trailer.Info
        number = info.objgen[0]
        info.Subject = pikepdf.String("changed")
        changed = info.unparse(resolved=True)
    assert codes(_updated(pdf, {number: changed})) == ["pdf-incremental-update"]


def test_an_incremental_update_that_edits_the_amount_is_caught_twice(pdf: bytes) -> None:
    """The update itself, and what the reader then shows."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        old, new = _encoded(doc, TOTAL).hex().encode(), _encoded(doc, "¥9409.50").hex().encode()
        page = doc.pages[0].obj
        content = page.Contents.read_bytes().replace(b"<" + old + b">", b"<" + new + b">")
        fresh = int(doc.trailer.Size)
        page.Contents = doc.make_indirect(pikepdf.Dictionary())  # placeholder, replaced below
        number = page.objgen[0]
        text = page.unparse(resolved=True).replace(
            b"%d 0 R" % page.Contents.objgen[0], b"%d 0 R" % fresh
        )
    stream = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    updated = _updated(pdf, {number: text, fresh: stream})
    assert codes(updated) == ["pdf-incremental-update", "pdf-text-mismatch"]


def test_another_receipts_qr_code_is_a_qr_mismatch(pdf: bytes) -> None:
    other = render_pdf(good_xml(number=2))

    def transplant(doc: pikepdf.Pdf) -> None:
        with pikepdf.open(io.BytesIO(other)) as source:
            theirs = source.pages[0].Contents.read_bytes()
        ours = doc.pages[0].Contents.read_bytes()
        cut = ours.index(b"f Q") + 3
        their_cut = theirs.index(b"f Q") + 3
        doc.pages[0].Contents.write(theirs[:their_cut] + ours[cut:])

    assert codes(_edit(pdf, transplant)) == ["pdf-qr-mismatch"]


def _fuller() -> Path:
    if not FULLER_FONT.exists():
        skip_or_fail(f"{FULLER_FONT} is not installed (Debian: fonts-wqy-zenhei)")
    return FULLER_FONT


def test_a_pdf_issued_with_a_fuller_font_verifies_with_the_default_configuration() -> None:
    font = _fuller()
    receipt = normal_receipt()
    rare = receipt.__class__(**{**receipt.__dict__, "payer": Payer("王䶮", receipt.payer.kind)})
    check_printable(rare, font)
    with pytest.raises(FontCoverageError):
        check_printable(rare)  # the default font cannot print it
    data = render_pdf(sign_receipt(rare), font_path=font)
    # The verifier has the default font (font=None): it cannot re-render, it reads the page.
    assert codes(data, "render") == ["render-failed"]
    assert codes(data) == [] and codes(data, "content") == []


def test_a_name_the_configured_font_cannot_draw_is_refused() -> None:
    font = _fuller()
    with pytest.raises(FontCoverageError, match=r"U\+2020C"):
        check_printable({"payer name": "王𠈌"}, font)


def test_damaged_pages_and_fonts_are_findings_never_exceptions(pdf: bytes) -> None:
    """Bytes flipped in the page and in the fonts' maps and programs: each result is a
    finding (which, depends on the byte), never a traceback."""
    import random

    chance = random.Random(18)

    def damage(doc: pikepdf.Pdf, which: str) -> None:
        page = doc.pages[0]
        _, font = next(iter(page.Resources.Font.items()))  # .values(): pikepdf >= 10.3
        stream = {
            "page": page.Contents,
            "map": font.ToUnicode,
            "program": font.FontDescriptor.FontFile2,
        }[which]
        data = bytearray(stream.read_bytes())
        for _ in range(3):
            data[chance.randrange(len(data))] = chance.randrange(256)
        stream.write(bytes(data))

    for which in ("page", "map", "program"):
        for _ in range(8):
            result = verify_pdf(
                _edit(pdf, lambda d, w=which: damage(d, w)),  # type: ignore[misc]
                build_pki().validator,
                method="content",
            )
            assert all(f.code.startswith(("pdf-", "invalid-pdf")) for f in result.findings)


def test_a_page_without_fonts_is_a_text_mismatch(pdf: bytes) -> None:
    def strip(doc: pikepdf.Pdf) -> None:
        del doc.pages[0].Resources["/Font"]

    assert "pdf-text-mismatch" in codes(_edit(pdf, strip), "content")
