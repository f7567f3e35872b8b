"""Fonts: the shipped WenQuanYi Zen Hei subset or a configured TrueType font.

Everything here is cached per process and per font file: reading a CJK font's cmap takes tens
of milliseconds and registering it with reportlab about a hundred, so a batch pays once.
fontTools and reportlab are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from receipts.render.errors import FontCoverageError, FontError

__all__ = [
    "SHIPPED_FONT",
    "FontFace",
    "Glyph",
    "check_coverage",
    "glyph_outline",
    "load_face",
    "register_font",
    "resolve_font",
    "shipped_font",
]

#: File name of the font shipped in ``receipts/fonts/`` (built by ``tools/build_font.py``).
SHIPPED_FONT = "wqy-zenhei-subset.ttf"
# OS/2 fsType bit 1: "restricted licence embedding"; such a font must not be embedded.
_FS_RESTRICTED = 0x0002


def shipped_font() -> Path:
    """Path of the font shipped with the package."""
    return Path(str(resources.files("receipts").joinpath("fonts", SHIPPED_FONT)))


def resolve_font(font: Path | str | None) -> Path:
    """The font file to use: ``font`` (a workspace's configured font) or the shipped one."""
    if font is None:
        return shipped_font()
    path = Path(font).expanduser()
    if not path.is_file():
        raise FontError(f"font file {path} does not exist")
    return path.resolve()


@dataclass(frozen=True)
class Glyph:
    """One character's outline as PDF path operators, in font units, for the seal."""

    advance: int
    """Advance width in font units."""
    path: str
    """PDF path construction operators (``m l c h``), without a painting operator."""


@dataclass(frozen=True, eq=False)  # one per file (cached): identity is equality
class FontFace:
    """What rendering needs to know about a font file, read once."""

    path: Path
    """The font file (for a collection, its first face is used)."""
    codepoints: frozenset[int]
    """Every character the font can print."""
    units_per_em: int
    """Font units per em, to scale glyph outlines."""
    _font: Any
    """The lazily loaded fontTools ``TTFont`` (outlines are read on demand)."""

    def missing(self, text: str) -> str | None:
        """The first character of ``text`` the font cannot print, or None."""
        codepoints = self.codepoints
        for char in text:
            if ord(char) not in codepoints:
                return char
        return None

    def glyph(self, char: str) -> Glyph:
        """The outline of ``char`` (the font's .notdef glyph when it has none)."""
        return _glyph(self, char)


@functools.lru_cache(maxsize=8)
def load_face(path: Path) -> FontFace:
    """Read ``path``'s character map; refuse fonts reportlab cannot embed, with the reason."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(str(path), fontNumber=0, lazy=True)
        cmap = font.getBestCmap()
        units = int(font["head"].unitsPerEm)
        fs_type = int(font["OS/2"].fsType) if "OS/2" in font else 0
    except (TTLibError, OSError, KeyError, AssertionError, ValueError) as exc:
        raise FontError(f"font file {path} cannot be read as a TrueType font: {exc}") from None
    if cmap is None:
        raise FontError(f"font file {path} has no Unicode character map")
    if "glyf" not in font:
        raise FontError(
            f"font file {path} has PostScript (CFF) outlines; PDF rendering needs a font with "
            f"TrueType outlines (.ttf, or the first face of a .ttc)"
        )
    if fs_type & _FS_RESTRICTED:
        raise FontError(f"font file {path} forbids embedding (OS/2 fsType {fs_type:#06x})")
    return FontFace(path, frozenset(cmap), units, font)


def check_coverage(face: FontFace, fields: Iterable[tuple[str, str]]) -> None:
    """Raise :class:`FontCoverageError` for the first (field, text) the font cannot print."""
    for field, text in fields:
        char = face.missing(text)
        if char is not None:
            raise FontCoverageError(field, char, face.path)


@functools.lru_cache(maxsize=8)
def register_font(path: Path) -> str:
    """Register ``path`` with reportlab once per process; return the registered font name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    load_face(path)  # the clear errors for unusable fonts come from here
    # The registered name never reaches the PDF (subsets are named after the font's own
    # PostScript name), so any per-file name works; a digest keeps two fonts apart.
    name = "ReceiptFont-" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    try:
        font = TTFont(name, str(path), subfontIndex=0, asciiReadable=False)
    except (TTFError, OSError) as exc:
        raise FontError(f"font file {path} cannot be embedded: {exc}") from None
    pdfmetrics.registerFont(font)
    if pdfmetrics.getFont(name) is not font:
        # reportlab silently maps a second font with the same PostScript name (say, the full
        # WenQuanYi after our subset of it) to the first one, which lacks the characters the
        # second was configured for. Register this one under its own name regardless.
        pdfmetrics._fonts[name] = font
    _keep_tables(font.face)
    return name


def _keep_tables(face: Any) -> None:
    """Make reportlab read each table of the font file once per process, not once per PDF.

    To subset the font for a PDF, reportlab slices (copies) whole tables out of the file's
    bytes, the 7 MB ``glyf`` table included: about a fifth of the time of a receipt page. The
    bytes never change, so each table is kept after its first read.
    """
    read = face.get_table
    tables: dict[str, bytes] = {}

    def get_table(tag: str) -> bytes:
        table = tables.get(tag)
        if table is None:
            table = tables[tag] = read(tag)
        return table

    face.get_table = get_table


@functools.lru_cache(maxsize=4096)
def _glyph(face: FontFace, char: str) -> Glyph:
    font = face._font
    return glyph_outline(font, font.getBestCmap().get(ord(char), ".notdef"))


def glyph_outline(font: Any, name: str) -> Glyph:
    """The outline of glyph ``name`` of a fontTools ``TTFont`` as PDF path operators (also
    read from a PDF's embedded font subset by ``receipts.verify.pdf_fonts``)."""
    from fontTools.pens.basePen import BasePen

    glyph_set = font.getGlyphSet()

    class PathPen(BasePen):  # type: ignore[misc]  # fontTools is untyped
        """Collects a glyph outline as PDF operators; quadratic curves become cubic."""

        def __init__(self) -> None:
            super().__init__(glyph_set)
            self.ops: list[str] = []

        def _moveTo(self, pt: tuple[float, float]) -> None:
            self.ops.append(f"{_num(pt[0])} {_num(pt[1])} m")

        def _lineTo(self, pt: tuple[float, float]) -> None:
            self.ops.append(f"{_num(pt[0])} {_num(pt[1])} l")

        def _curveToOne(
            self, p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float]
        ) -> None:
            self.ops.append(
                f"{_num(p1[0])} {_num(p1[1])} {_num(p2[0])} {_num(p2[1])} "
                f"{_num(p3[0])} {_num(p3[1])} c"
            )

        def _closePath(self) -> None:
            self.ops.append("h")

    pen = PathPen()
    glyph = glyph_set[name]
    glyph.draw(pen)
    return Glyph(int(glyph.width), " ".join(pen.ops))


def _num(value: float) -> str:
    """A coordinate in whole font units: a seal glyph is about 10 pt high, so a unit is about
    a hundredth of a point, finer than any printer; whole numbers keep the page stream short."""
    return str(round(value))
