"""The shipped font (coverage, size, licence), the printability check that runs before a number
is taken, and configured fonts (fuller ones accepted, unusable ones refused clearly)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

from receipts.domain.enums import PayerKind
from receipts.domain.model import Payer, Receipt
from receipts.render.fonts import shipped_font
from receipts.render.receipt_pdf import FontCoverageError, FontError, check_printable, render_pdf
from tests.support.pdf import normal_pdf, normal_receipt, pdftotext, run_tool, sign_receipt
from tests.support.skips import skip_or_fail

FULL_WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONTS_DIR = shipped_font().parent


def _with_payer(name: str) -> Receipt:
    return dataclasses.replace(normal_receipt(), payer=Payer(name, PayerKind.INDIVIDUAL))


def test_shipped_font_covers_what_receipts_print() -> None:
    cmap = TTFont(str(shipped_font()), lazy=True).getBestCmap()
    wanted = [
        *range(0x20, 0x7F),  # ASCII
        *range(0x4E00, 0x9FA6),  # every unified ideograph up to U+9FA5
        *map(ord, "“”‘’—…·¥×"),  # punctuation used in Chinese text, yuan sign
        *map(ord, "　、。〈〉《》「」『』【】〔〕〖〗〇"),  # CJK symbols and punctuation
        *range(0xFF01, 0xFF5F),  # full-width ASCII forms
        *map(ord, "￥￠￡"),  # full-width currency signs
    ]
    missing = [f"U+{cp:04X}" for cp in wanted if cp not in cmap]
    assert missing == []


def test_shipped_font_is_lean_and_licensed() -> None:
    font = TTFont(str(shipped_font()), lazy=True)
    # No hinting, layout tables, vertical metrics or bitmaps: reportlab uses none of them.
    assert set(font.keys()) <= {
        "GlyphOrder",
        "head",
        "hhea",
        "maxp",
        "OS/2",
        "hmtx",
        "cmap",
        "loca",
        "glyf",
        "name",
        "post",
    }
    assert shipped_font().stat().st_size < 7_500_000
    notice = (FONTS_DIR / "wqy-zenhei-COPYRIGHT.txt").read_text(encoding="utf-8")
    assert "GPL-2 with Font embedding exception" in notice
    assert "tools/build_font.py" in notice
    gpl = (FONTS_DIR / "GPL-2.txt").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in gpl and "Version 2, June 1991" in gpl


@pytest.mark.parametrize(
    ("field", "change", "char"),
    [
        ("payer name", lambda r: _with_payer("张𠀀"), "U+20000"),
        ("remark", lambda r: dataclasses.replace(r, remark="已收讫🙂"), "U+1F642"),
        ("handler", lambda r: dataclasses.replace(r, handler="李㐀"), "U+3400"),
    ],
)
def test_a_character_outside_the_font_is_refused_naming_it_and_the_field(
    field: str, change: object, char: str
) -> None:
    assert callable(change)
    receipt = change(normal_receipt())
    with pytest.raises(FontCoverageError) as caught:
        check_printable(receipt)
    message = str(caught.value)
    assert message.startswith(f"{field}: character ")
    assert f"({char})" in message
    assert "configure a fuller TrueType font" in message and "receipts.toml" in message
    assert caught.value.field == field


def test_fields_given_by_name_are_checked_too() -> None:
    check_printable({"payer name": "宁夏龘犇贺兰山实业有限公司"})
    with pytest.raises(FontCoverageError, match=r"^item 1 name: character '𠀀' \(U\+20000\)"):
        check_printable({"payer name": "张三", "item 1 name": "会费𠀀"})


def test_rendering_refuses_unprintable_text_before_drawing() -> None:
    xml = sign_receipt(_with_payer("王𠀀"))
    with pytest.raises(FontCoverageError, match="payer name"):
        render_pdf(xml)


def test_a_configured_fuller_font_prints_what_the_shipped_one_cannot() -> None:
    if not FULL_WQY.exists():
        skip_or_fail(f"{FULL_WQY} is not installed (Debian: fonts-wqy-zenhei)")
    receipt = _with_payer("李㐀明")
    with pytest.raises(FontCoverageError):
        check_printable(receipt)
    check_printable(receipt, FULL_WQY)
    # The shipped font is registered first on purpose: reportlab would silently use it for any
    # later font with the same PostScript name (the full WenQuanYi has its subset's name).
    normal_pdf()
    pdf = render_pdf(sign_receipt(receipt), font_path=FULL_WQY)
    assert "李㐀明" in pdftotext(pdf)
    for line in _pdffonts(pdf):
        assert line.split()[-5] == "yes", line


def _pdffonts(pdf: bytes) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "r.pdf"
        file.write_bytes(pdf)
        return run_tool("pdffonts", str(file)).stdout.splitlines()[2:]


def _build_font(path: Path, *, cff: bool = False, fs_type: int = 0) -> Path:
    builder = FontBuilder(1000, isTTF=not cff)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    if cff:
        pen = T2CharStringPen(500, None)
        pen.moveTo((0, 0))
        pen.lineTo((0, 700))
        pen.lineTo((500, 0))
        pen.closePath()
        charstring = pen.getCharString()
        builder.setupCFF("Tiny", {"FullName": "Tiny"}, {".notdef": charstring, "A": charstring}, {})
    else:
        tt_pen = TTGlyphPen(None)
        tt_pen.moveTo((0, 0))
        tt_pen.lineTo((0, 700))
        tt_pen.lineTo((500, 0))
        tt_pen.closePath()
        glyph = tt_pen.glyph()
        builder.setupGlyf({".notdef": glyph, "A": glyph})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Tiny", "styleName": "Regular"})
    builder.setupOS2(fsType=fs_type)
    builder.setupPost()
    builder.save(str(path))
    return path


def test_unusable_fonts_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(FontError, match="does not exist"):
        check_printable({}, tmp_path / "missing.ttf")
    garbage = tmp_path / "garbage.ttf"
    garbage.write_bytes(b"this is not a font")
    with pytest.raises(FontError, match="cannot be read as a TrueType font"):
        check_printable({}, garbage)
    with pytest.raises(FontError, match=r"PostScript \(CFF\) outlines"):
        check_printable({}, _build_font(tmp_path / "tiny.otf", cff=True))
    with pytest.raises(FontError, match="forbids embedding"):
        check_printable({}, _build_font(tmp_path / "restricted.ttf", fs_type=0x0002))


def test_a_font_without_chinese_is_refused_for_the_layout_itself(tmp_path: Path) -> None:
    latin = _build_font(tmp_path / "latin.ttf")
    with pytest.raises(FontCoverageError, match=r"^layout text: character '工'"):
        check_printable({"payer name": "A"}, latin)
