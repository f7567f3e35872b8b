"""Build the font shipped in ``receipts/fonts/``: a subset of WenQuanYi Zen Hei, face 0.

Run from the repository root (needs fonts-wqy-zenhei and fontTools)::

    python tools/build_font.py [--source /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc]

The subset keeps what a receipt prints: ASCII and Latin-1, general punctuation used in Chinese
(“”‘’—…·), CJK symbols and punctuation (U+3000-303F), full-width forms (U+FF00-FFEF) and every
unified ideograph of U+4E00-U+9FA5, so rare characters in names print. It drops hinting, glyph
names and the tables reportlab never reads (layout, vertical metrics, bitmaps), which is all the
size the coverage allows to lose. The build is reproducible: the font's own timestamps are kept.

The licence (GPL v2 with the font embedding exception, and the M+ FONTS licence) is copied
beside the font, with a note saying how this modified version was made, as the GPL asks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

__all__ = ["COVERAGE", "build", "main"]

SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
COPYRIGHT = Path("/usr/share/doc/fonts-wqy-zenhei/copyright")
GPL2 = Path("/usr/share/common-licenses/GPL-2")
TARGET_DIR = Path(__file__).resolve().parent.parent / "receipts" / "fonts"
FONT_NAME = "wqy-zenhei-subset.ttf"

#: Code point ranges (inclusive) the subset keeps, where the source face has a glyph.
COVERAGE: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: ¥ × · ° and letters in foreign company names
    (0x2010, 0x2027),  # dashes, quotes, leader dots: “”‘’—…
    (0x2030, 0x203B),  # ‰ ′ ″ ※
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2160, 0x216B),  # Roman numerals in addresses and company names
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x4E00, 0x9FA5),  # CJK unified ideographs (GBK's and Unicode 1.1's set)
    (0xFF00, 0xFFEF),  # full-width forms
)

# Tables reportlab's TrueType embedding never reads: OpenType layout, vertical metrics, bitmaps,
# FontForge's timestamp. Hinting (fpgm, prep, cvt, gasp) goes via ``hinting = False``.
_DROP = ["BDF", "EBDT", "EBLC", "EBSC", "FFTM", "GDEF", "GPOS", "GSUB", "vhea", "vmtx", "gasp"]

_NOTICE = """\
WenQuanYi Zen Hei (文泉驿正黑), subset: receipts/fonts/{font}
=====================================================================

This font is a modified version of face 0 of wqy-zenhei.ttc from the Debian package
fonts-wqy-zenhei: the glyphs for the code points listed in tools/build_font.py were kept, and
hinting, glyph names, OpenType layout tables, vertical metrics and bitmaps were removed, with
fontTools. tools/build_font.py in this repository rebuilds it from the unmodified source
(https://wenq.org/, or Debian's fonts-wqy-zenhei). As the licence below permits, the font
embedding exception is extended to this modified version: a document that embeds this font, or
portions of it, is not by that alone covered by the GNU General Public License.

The full text of the GNU General Public License version 2 is in GPL-2.txt beside this file.

The Debian copyright file of fonts-wqy-zenhei follows, unchanged.
---------------------------------------------------------------------

"""


def _unicodes(face: TTFont) -> list[int]:
    cmap = face.getBestCmap()
    return [cp for first, last in COVERAGE for cp in range(first, last + 1) if cp in cmap]


def build(source: Path, target_dir: Path) -> Path:
    """Write the subset font and its licence files into ``target_dir``; return the font path."""
    collection = TTCollection(str(source), lazy=False)
    face = collection.fonts[0]
    face.recalcTimestamp = False  # keep head.modified from the source: reproducible output
    missing = [cp for cp in range(0x4E00, 0x9FA6) if cp not in face.getBestCmap()]
    if missing:
        raise SystemExit(f"source face lacks {len(missing)} ideographs, e.g. U+{missing[0]:04X}")
    options = subset.Options()
    options.hinting = False
    options.drop_tables += _DROP
    options.layout_features = []
    options.glyph_names = False  # post table format 3
    options.notdef_glyph = True
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 13, 14]  # keep copyright and licence entries
    options.name_languages = [0x0409, 0x0804]
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_unicodes(face))
    subsetter.subset(face)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / FONT_NAME
    face.save(str(target), reorderTables=True)
    notice = _NOTICE.format(font=FONT_NAME) + COPYRIGHT.read_text(encoding="utf-8")
    (target_dir / "wqy-zenhei-COPYRIGHT.txt").write_text(notice, encoding="utf-8")
    (target_dir / "GPL-2.txt").write_text(GPL2.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="wqy-zenhei.ttc")
    parser.add_argument("--out", type=Path, default=TARGET_DIR, help="output folder")
    args = parser.parse_args(argv)
    target = build(args.source, args.out)
    font = TTFont(str(target))
    print(f"{target}: {target.stat().st_size:,} bytes, {len(font.getBestCmap()):,} code points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
