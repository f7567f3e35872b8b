"""The fonts of a receipt page: embedded, mapped to Unicode, and drawing the expected glyphs
(``docs/security.md``, "A receipt PDF").

Text is read from the page through each font's ``/ToUnicode`` map, so what the map says is
what is compared with the XML. A doctored font could still draw a 7 for the code the map calls
1, or give a 1 no width so that it vanishes under its neighbour. So every font must be embedded
(``/FontFile2``), and for each digit and each character amounts in capitals are written with
(and the few signs printed in amounts), the embedded glyph's outline and the advance width the
page declares must be the reference font's (the shipped font) for the same code point. Other
characters are checked for their advance width when the reference font has them; a character
the reference font lacks (a rare character printed with a fuller font) cannot be checked
against it, and is only read through the map.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error
from typing import Any

from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.render.extract import decoded_stream
from receipts.render.fonts import FontFace, Glyph, glyph_outline, load_face, shipped_font
from receipts.verify.pdf_tounicode import to_unicode

__all__ = [
    "CHECKED_GLYPHS",
    "EmbeddedFace",
    "PageFonts",
    "ProgramFacts",
    "glyph_findings",
    "program_facts",
    "read_fonts",
]

#: Characters whose reference glyphs are read with the font, for every page: the digits, the
#: characters of amounts in capitals (receipts.domain.capitals writes 零…玖 拾佰仟万亿 元角分 整 负;
#: its parser also reads 圆 and 正), and the signs of amounts in figures. Every other character the
#: reference font has is checked too, its glyph read when a page first shows it.
CHECKED_GLYPHS = frozenset("0123456789零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整负圆正¥.,-%")
# A width may differ from the reference's by rounding in the /Widths array (1/1000 em).
_WIDTH_TOLERANCE = 0.01
#: The keys of a font dictionary as reportlab writes a subset: a reader maps codes to glyphs
#: through the program's own character map, and nothing else.
_FONT_KEYS = frozenset(
    {"/Type", "/Subtype", "/BaseFont", "/Name", "/FirstChar", "/LastChar", "/Widths"}
    | {"/FontDescriptor", "/ToUnicode"}
)
_NON_SYMBOLIC = 32  # PDF 32000 §9.8.2, font flag 6
# Stands for a code the map does not read (a map that yields it is refused all the same).
_UNMAPPED = "\uffff"


@dataclass(frozen=True)
class EmbeddedFont:
    """One simple TrueType font resource of the page."""

    resource: str
    to_unicode: dict[int, str]
    """Character code → the text it stands for."""
    widths: dict[int, float]
    """Character code → advance width in 1/1000 em (``/Widths``)."""
    font_file: bytes
    """The embedded TrueType program (``/FontFile2``)."""


class PageFonts:
    """The page's fonts by resource name, read once."""

    def __init__(self, fonts: dict[str, EmbeddedFont]) -> None:
        self.fonts = fonts
        self._width: dict[str, float] = {}
        self._programs: dict[str, Any] = {}
        # Per font, every one-byte code to its text, for str.translate.
        self._tables = {
            name: {code: font.to_unicode.get(code, _UNMAPPED) for code in range(256)}
            for name, font in fonts.items()
        }
        for font in fonts.values():
            for code, char in font.to_unicode.items():
                if code in font.widths:
                    self._width.setdefault(char, font.widths[code] / 1000)

    def decode(self, resource: str, codes: bytes) -> str | None:
        """The text of ``codes`` shown in font ``resource``; None when a code has no mapping."""
        table = self._tables.get(resource)
        if table is None:
            return None
        text = codes.decode("latin-1").translate(table)
        return None if _UNMAPPED in text else text

    def facts(self, font: EmbeddedFont) -> ProgramFacts:
        """What the checks read from the embedded TrueType program (:func:`program_facts`)."""
        return program_facts(font.font_file)

    def program(self, font: EmbeddedFont) -> Any:
        """The embedded TrueType program (fontTools, lazy), this page's own: only for outlines
        that are not the reference glyph's very bytes."""
        found = self._programs.get(font.resource)
        if found is None:
            found = self._programs[font.resource] = _program(font.font_file)
        return found

    def width(self, char: str) -> float:
        """A character's advance at 1 pt as the page declares it (0 if no font maps it)."""
        return self._width.get(char, 0.0)

    def covers(self, char: str) -> bool:
        return char in self._width


def read_fonts(resources: Any) -> tuple[PageFonts, list[Finding]]:
    """The fonts of a page's ``/Resources``; a finding for each that is not an embedded
    TrueType font with a readable Unicode map and widths."""
    import pikepdf

    fonts: dict[str, EmbeddedFont] = {}
    findings: list[Finding] = []
    table = resources.get("/Font") if resources is not None else None
    for name, font in table.items() if table is not None else []:
        try:
            fonts[str(name)] = _embedded(str(name), font)
        except (
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
            TypeError,
            pikepdf.PdfError,
        ) as exc:
            findings.append(_not_embedded(f"font {name} {exc}"))
        except ReceiptError as exc:
            findings.append(_not_embedded(f"font {name}: {exc}"))
    return PageFonts(fonts), findings


def _not_embedded(what: str) -> Finding:
    return Finding(FindingCode.PDF_FONT_NOT_EMBEDDED, what)


def _embedded(name: str, font: Any) -> EmbeddedFont:
    if font.get("/Subtype") != "/TrueType":
        raise ValueError(f"is a {font.get('/Subtype')} font; a receipt page uses TrueType fonts")
    extra = sorted(set(font.keys()) - _FONT_KEYS)
    if extra:  # an /Encoding, say, would make a reader pick other glyphs for the same codes
        raise ValueError(f"has {', '.join(extra)}, which a receipt's fonts do not")
    descriptor = font.get("/FontDescriptor")
    program = descriptor.get("/FontFile2") if descriptor is not None else None
    if program is None:
        raise ValueError("is not embedded (no /FontFile2): a reader would draw it with any font")
    if "/FontFile" in descriptor or "/FontFile3" in descriptor:
        raise ValueError("carries a second font program beside its /FontFile2")
    if int(descriptor.get("/Flags", 0)) & _NON_SYMBOLIC:
        raise ValueError("is marked non-symbolic: a reader would map its codes through an encoding")
    if "/ToUnicode" not in font:
        raise ValueError("has no /ToUnicode map: its text cannot be read")
    first = int(font.get("/FirstChar", 0))
    widths = {first + i: float(w) for i, w in enumerate(font.get("/Widths", []))}
    mapping = to_unicode(decoded_stream(font.ToUnicode, f"the /ToUnicode map of font {name}"))
    return EmbeddedFont(name, mapping, widths, decoded_stream(program, f"the embedded font {name}"))


class EmbeddedFace(FontFace):
    """The page's embedded fonts as a :class:`FontFace` for drawing the seal's glyphs: the
    issuer's name is printed as text too, so its characters are in the embedded subsets."""

    def __init__(self, fonts: PageFonts) -> None:
        glyphs: dict[str, tuple[EmbeddedFont, str]] = {}
        units = 1000
        for font in fonts.fonts.values():
            facts = fonts.facts(font)
            units = facts.units
            for code, char in font.to_unicode.items():
                if code in facts.names:
                    glyphs.setdefault(char, (font, facts.names[code]))
        super().__init__(Path("<embedded>"), frozenset(map(ord, glyphs)), units, None)
        object.__setattr__(self, "_glyphs", glyphs)
        object.__setattr__(self, "_fonts", fonts)

    def glyph(self, char: str) -> Glyph:
        found: dict[str, tuple[EmbeddedFont, str]] = self._glyphs  # type: ignore[attr-defined]
        fonts: PageFonts = self._fonts  # type: ignore[attr-defined]
        if not found:  # a page without fonts: its text check reports what is missing
            return Glyph(0, "")
        font, name = found.get(char) or next(iter(found.values()))
        name = name if char in found else ".notdef"
        facts = fonts.facts(font)
        data = facts.glyphs.get(name)
        metrics = facts.metrics.get(name)
        # A simple glyph (contour count >= 0) is drawn from its bytes and its horizontal
        # metrics alone (fontTools offsets it by the metrics' left side bearing): the same
        # three are the same outline in any subset, so outlines are drawn once per process.
        if data and data[0] < 0x80 and metrics is not None:
            key = (data, *metrics)
            outline = _OUTLINES.get(key)
            if outline is None:
                outline = glyph_outline(fonts.program(font), name)
                if len(_OUTLINES) < 4096:
                    _OUTLINES[key] = outline
            return outline
        return glyph_outline(fonts.program(font), name)


_OUTLINES: dict[tuple[bytes, int, int], Glyph] = {}


@dataclass(frozen=True)
class ProgramFacts:
    """What the checks read from an embedded TrueType program: a function of its bytes."""

    units: int
    """Font units per em (``head``)."""
    names: dict[int, str]
    """Character code → glyph name, through the program's one character map."""
    glyphs: dict[str, bytes | None]
    """Glyph name → the glyph's bytes in ``glyf`` (None for an empty glyph)."""
    metrics: dict[str, tuple[int, int]]
    """Glyph name → advance width and left side bearing (``hmtx``)."""


def program_facts(data: bytes) -> ProgramFacts:
    """The :class:`ProgramFacts` of the TrueType program ``data``, kept for the last
    :data:`_KEPT_PROGRAMS` programs by the SHA-256 of their bytes: pages of one issuer share
    subsets, and what is kept is plain data read from those very bytes, never a fontTools
    object another page could find half-read. A program that cannot be read raises (fontTools'
    errors), each time, and is not kept."""
    digest = hashlib.sha256(data).digest()
    with _PROGRAMS_LOCK:
        found = _PROGRAMS.pop(digest, None)
    if found is None:
        found = _read_facts(data)
    with _PROGRAMS_LOCK:
        _PROGRAMS.pop(digest, None)
        while len(_PROGRAMS) >= _KEPT_PROGRAMS:
            del _PROGRAMS[next(iter(_PROGRAMS))]  # the least recently used
        _PROGRAMS[digest] = found
    return found


_KEPT_PROGRAMS = 32
_PROGRAMS: dict[bytes, ProgramFacts] = {}
_PROGRAMS_LOCK = threading.Lock()


def _read_facts(data: bytes) -> ProgramFacts:
    program = _program(data)
    units = int(program["head"].unitsPerEm)
    names = _code_glyphs(program)
    glyphs = {name: getattr(glyph, "data", None) for name, glyph in program["glyf"].glyphs.items()}
    metrics = {
        name: (int(advance), int(lsb)) for name, (advance, lsb) in program["hmtx"].metrics.items()
    }
    return ProgramFacts(units, names, glyphs, metrics)


def glyph_findings(fonts: PageFonts) -> list[Finding]:
    """A finding for each embedded glyph or advance width of a character the reference font
    has that is not the reference font's (a character it lacks, drawn from a fuller configured
    font, is read by its text and width only)."""
    from fontTools.ttLib import TTLibError

    reference = _reference()
    findings: list[Finding] = []
    for font in fonts.fonts.values():
        try:
            facts = fonts.facts(font)
        except (TTLibError, KeyError, ValueError, AssertionError, struct_error) as exc:
            findings.append(
                _not_embedded(f"the embedded font {font.resource} cannot be read: {exc}")
            )
            continue
        for code, char in sorted(font.to_unicode.items()):
            expected = reference.get(char)
            if expected is None:
                continue
            width = font.widths.get(code)
            if width is None or abs(width - expected[0]) > _WIDTH_TOLERANCE:
                findings.append(_doctored(font, char, f"is {width} wide, not {expected[0]:.4f}"))
                continue
            # Every character the reference font has: a payer's name redrawn with the glyphs
            # of others (银川市 for 贺兰山) kept every width and read as the genuine text.
            raw, shape = expected[1:] if char in CHECKED_GLYPHS else _reference_glyph(char)
            name = facts.names.get(code)
            if name is not None and _same_bytes(facts.glyphs.get(name), raw):
                continue
            try:
                outline = (
                    None
                    if name is None
                    else _outline(fonts.program(font)["glyf"], name, facts.units)
                )
            except (TTLibError, KeyError, ValueError, AssertionError, struct_error) as exc:
                findings.append(_doctored(font, char, f"has an unreadable glyph ({exc})"))
                continue
            if outline != shape:
                findings.append(_doctored(font, char, "is drawn with another glyph"))
    return findings


def _same_bytes(embedded: bytes | None, reference: bytes | None) -> bool:
    """The reference glyph's very bytes (reportlab copies them), padded with up to three zero
    bytes to a 4-byte boundary; a glyph's own data says where it ends, so the padding is never
    read."""
    if embedded is None or reference is None or not embedded.startswith(reference):
        return False
    padding = embedded[len(reference) :]
    return len(padding) < 4 and not padding.strip(b"\x00")


def _doctored(font: EmbeddedFont, char: str, what: str) -> Finding:
    return Finding(
        FindingCode.PDF_FONT_GLYPH_MISMATCH,
        f"in the embedded font {font.resource}, {char!r} (U+{ord(char):04X}) {what} than the "
        "reference font's: the page may not show what its text says"
        if what.startswith("is drawn")
        else f"in the embedded font {font.resource}, {char!r} (U+{ord(char):04X}) {what}",
    )


def _program(data: bytes) -> Any:
    from fontTools.ttLib import TTFont

    return TTFont(io.BytesIO(data), lazy=True)


def _code_glyphs(program: Any) -> dict[int, str]:
    """Character code → glyph name of a simple embedded font (its one cmap subtable; a
    subset maps its one-byte codes)."""
    tables = program["cmap"].tables
    if len(tables) != 1:
        # With several, readers differ in which they use; the check must judge the one used.
        raise ValueError(f"the embedded font has {len(tables)} character maps, not one")
    table = tables[0]
    if (table.platformID, table.platEncID) != (1, 0):
        # A symbolic font's (3,0) map is read at 0xF000 + code too (PDF 32000 §9.6.6.4): a
        # glyph there, unjudged here, is what readers drew (found by an adversarial review).
        where = f"({table.platformID},{table.platEncID})"
        raise ValueError(f"the embedded font's character map is {where}, not (1,0) as a subset's")
    return dict(table.cmap)


def _outline(glyf: Any, name: str, units: int) -> tuple[object, ...]:
    """A glyph's outline, independent of glyph numbering (composites resolved), scaled to
    1000 units per em."""
    glyph = glyf[name]
    coordinates, ends, flags = glyph.getCoordinates(glyf)
    scale = 1000 / units
    return (
        tuple((round(x * scale, 3), round(y * scale, 3)) for x, y in coordinates),
        tuple(ends),
        tuple(flag & 1 for flag in flags),
    )


@functools.cache
def _reference() -> dict[str, tuple[float, bytes | None, tuple[object, ...] | None]]:
    """Width (1/1000 em) and, for :data:`CHECKED_GLYPHS`, the glyph's bytes and outline of
    every character of the reference (shipped) font."""
    face = load_face(shipped_font())
    font = face._font
    cmap = font.getBestCmap()
    metrics = font["hmtx"].metrics
    glyf = font["glyf"]
    units = face.units_per_em
    table: dict[str, tuple[float, bytes | None, tuple[object, ...] | None]] = {}
    for codepoint, name in cmap.items():
        char = chr(codepoint)
        raw = outline = None
        if char in CHECKED_GLYPHS:
            raw = getattr(glyf.glyphs[name], "data", None)
            outline = _outline(glyf, name, units)
        table[char] = (metrics[name][0] * 1000 / units, raw, outline)
    return table


@functools.lru_cache(maxsize=4096)
def _reference_glyph(char: str) -> tuple[bytes | None, tuple[object, ...] | None]:
    """The reference font's glyph bytes and outline of ``char`` (one it has), read when a page
    first shows it: the font holds thousands, a receipt shows about a hundred."""
    face = load_face(shipped_font())
    font = face._font
    name = font.getBestCmap()[ord(char)]
    glyf = font["glyf"]
    return getattr(glyf.glyphs[name], "data", None), _outline(glyf, name, face.units_per_em)
