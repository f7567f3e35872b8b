"""What every page layout is made of: the :class:`Layout` record and text-fitting helpers.

These helpers are part of the output of every layout version that uses them: changing what
they draw changes released layouts, so it needs a new helper (and a new layout version) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from receipts.domain.model import Receipt
from receipts.render.fonts import FontFace
from receipts.render.qr import qr_text

__all__ = ["BLACK", "RGB", "Layout", "PageOps", "wrap_text"]


@dataclass(frozen=True)
class Layout:
    """One version of the receipt page."""

    version: int
    """The number recorded in the PDF."""
    title: str
    """The page's title, also the document title."""
    pagesize: tuple[float, float]
    """Page width and height in points."""
    draw: Callable[[Any, Receipt, str, FontFace], None]
    """Draw the page on a reportlab canvas with the registered font name and its face."""
    printed: Callable[[Receipt], list[tuple[str, str]]]
    """Every (field, text) the page prints for a receipt, for the font coverage check."""
    fixed_text: str
    """Every fixed label and title of the page, for the font coverage check."""
    qr: Callable[[Receipt], str] = qr_text
    """The text its QR code encodes (checked by verification by content)."""


RGB = tuple[float, float, float]
BLACK: RGB = (0.0, 0.0, 0.0)


class PageOps:
    """A page's content, written as PDF operators: graphics first (in order), then all the
    text as one text object, so a stamp drawn after :meth:`finish` lies on top of everything.

    reportlab's canvas methods format every number with its pure-Python ``fp_str`` and make a
    text object per string, which together cost more than the rest of a receipt page; here
    numbers are written with two decimals and strings in hex. The canvas still keeps the books:
    which glyph has which code in which font subset (``splitString``), resources, the document.
    """

    def __new__(cls, canvas: Any, font: str) -> PageOps:
        # The released layouts construct their PageOps themselves; a canvas that records a
        # page instead of drawing it (receipts.render.page_model) names the class to use.
        chosen = getattr(canvas, "page_ops_class", cls)
        return super().__new__(
            chosen if isinstance(chosen, type) and issubclass(chosen, cls) else cls
        )

    def __init__(self, canvas: Any, font: str) -> None:
        from reportlab.pdfbase.pdfmetrics import getFont

        self._canvas = canvas
        self._doc = canvas._doc
        self._font = getFont(font)
        self._widths = _char_widths(font)
        self._ops: list[str] = []
        self._text: list[str] = []
        self._current: tuple[str, float] | None = None
        self._colour: RGB | None = None

    def width(self, text: str, size: float) -> float:
        """Width of ``text`` at ``size`` points."""
        widths = self._widths
        return sum(widths(char) for char in text) * size

    def literal(self, operators: str) -> None:
        """Graphics operators written elsewhere (they must leave the graphics state as is)."""
        self._ops.append(operators)

    def lines(
        self,
        segments: list[tuple[float, float, float, float]],
        width: float,
        colour: RGB = BLACK,
    ) -> None:
        """Stroke straight segments (x0, y0, x1, y1)."""
        path = " ".join(f"{a:.2f} {b:.2f} m {c:.2f} {d:.2f} l" for a, b, c, d in segments)
        self._ops.append(f"q {_rgb(colour)} RG {width:.2f} w {path} S Q")

    def rect(
        self, x: float, y: float, w: float, h: float, width: float, colour: RGB = BLACK
    ) -> None:
        """Stroke a rectangle."""
        self._ops.append(
            f"q {_rgb(colour)} RG {width:.2f} w {x:.2f} {y:.2f} {w:.2f} {h:.2f} re S Q"
        )

    def put(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        align: str = "left",
        colour: RGB = BLACK,
        bold: bool = False,
    ) -> None:
        """One line with its baseline at ``y``, starting (left), centred or ending at ``x``.
        ``bold`` strokes the glyph outlines as well (the font has no bold face)."""
        if not text:
            return
        if align == "right":
            x -= self.width(text, size)
        elif align == "centre":
            x -= self.width(text, size) / 2
        out = self._text
        if colour != self._colour:
            out.append(f"{_rgb(colour)} rg {_rgb(colour)} RG")
            self._colour = colour
        if bold:
            out.append("2 Tr 0.35 w")
        out.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
        for subset, codes in self._font.splitString(text, self._doc):
            name = self._font.getSubsetInternalName(subset, self._doc)
            if (name, size) != self._current:
                out.append(f"{name} {size:.2f} Tf")
                self._current = (name, size)
            out.append(f"<{codes.hex()}> Tj")
        if bold:
            out.append("0 Tr")

    def fitted(
        self,
        text: str,
        box: tuple[float, float, float, float],
        size: float,
        *,
        align: str = "left",
        pad: float = 3.0,
        colour: RGB = BLACK,
    ) -> None:
        """Draw ``text`` inside ``box`` = (x, y, width, height): on one line at ``size`` when
        it fits, else on one smaller line down to 6 pt, else wrapped on as many lines as the
        box holds at the largest size that fits. Every character is drawn, in order."""
        x, y, width, height = box
        room = width - 2 * pad
        natural = self.width(text, size)
        lines = [text]
        if natural > room:
            shrunk = size * room / natural
            if shrunk >= 6.0:
                size = shrunk
            else:
                lines, size = _wrapped(text, self._widths, room, height - 2)
        leading = size * 1.15
        # Centre the block of lines vertically; 0.35 em below the middle puts CJK glyphs on it.
        first = y + height / 2 + (len(lines) - 1) * leading / 2 - size * 0.35
        anchor = {"right": x + width - pad, "centre": x + width / 2}.get(align, x + pad)
        for number, line in enumerate(lines):
            self.put(anchor, first - number * leading, line, size, align=align, colour=colour)

    def finish(self) -> None:
        """Put the graphics, then the text, on the canvas's page."""
        text = "\n".join(self._text)
        self._canvas.addLiteral("\n".join([*self._ops, f"q BT\n{text}\nET Q"]))


def _rgb(colour: RGB) -> str:
    return " ".join(f"{c:.2f}" for c in colour)


def _wrapped(
    text: str, widths: Callable[[str], float], room: float, height: float
) -> tuple[list[str], float]:
    size = 6.0
    while True:
        lines = wrap_text(text, widths, size, room)
        if len(lines) * size * 1.15 <= height or size <= 3.0:
            return lines, size
        size -= 0.25


def wrap_text(text: str, widths: Callable[[str], float], size: float, room: float) -> list[str]:
    """Split ``text`` into lines no wider than ``room`` (``widths`` gives a character's width
    at 1 pt), breaking between any two characters (Chinese has no spaces to break at); joining
    the lines gives ``text`` back."""
    lines: list[str] = []
    start, used = 0, 0.0
    for index, char in enumerate(text):
        width = widths(char) * size
        if used + width > room and index > start:
            lines.append(text[start:index])
            start, used = index, 0.0
        used += width
    lines.append(text[start:])
    return lines


@functools.lru_cache(maxsize=8)
def _char_widths(font: str) -> Callable[[str], float]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    @functools.lru_cache(maxsize=8192)
    def width(char: str) -> float:
        return float(stringWidth(char, font, 1.0))

    return width
