"""What a layout puts on a receipt's page, recorded instead of drawn (``docs/security.md``,
"A receipt PDF").

Verification by content (``receipts.verify.pdf_page``) compares the page a PDF carries with the
page its layout version draws for the attached XML. The layout's own ``draw`` runs on a
:class:`RecordingCanvas`: every line of text is recorded with its position, size, colour and
weight, and every graphics operator as the layout writes it, so the expectation cannot drift
from the released layouts. Text is measured with the widths of the font embedded in the PDF
being verified (the issuer's font), so centred and fitted text lands where the issuer's renderer
put it, whatever font the verifier is configured with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from receipts.domain.model import Receipt
from receipts.render.fonts import FontFace
from receipts.render.page import BLACK, RGB, Layout, PageOps
from receipts.render.qr import QR_RECORDING

__all__ = ["PageModel", "RecordingCanvas", "TextLine", "expected_page"]


@dataclass(frozen=True)
class TextLine:
    """One line of text as a layout places it (``PageOps.put``)."""

    x: float
    """Where the line starts (after alignment), in points."""
    y: float
    """Its baseline."""
    size: float
    """Font size in points."""
    text: str
    colour: RGB
    bold: bool


@dataclass(frozen=True)
class PageModel:
    """A page as a layout draws it."""

    lines: tuple[TextLine, ...]
    """The text, in drawing order."""
    graphics: tuple[str, ...]
    """The graphics operators, in drawing order (the QR code first, with one placeholder
    module: its place and size are what the layout decides; the seal last)."""


@dataclass
class RecordingCanvas:
    """Stands in for reportlab's canvas: the layout's ``PageOps`` becomes a recorder
    (``PageOps.__new__`` honours :attr:`page_ops_class`) and literals are kept."""

    widths: Callable[[str], float]
    """A character's advance at 1 pt."""
    graphics: list[str] = field(default_factory=list)
    lines: list[TextLine] = field(default_factory=list)

    @property
    def page_ops_class(self) -> type[PageOps]:
        return _PageRecorder

    def addLiteral(self, operators: str) -> None:
        self.graphics.append(operators)


class _PageRecorder(PageOps):
    """``PageOps`` that records lines instead of writing text operators; its alignment and
    fitting are ``PageOps``'s own (``width``, ``fitted``), with the recorded widths."""

    def __init__(self, canvas: Any, font: str) -> None:
        self._canvas = canvas
        self._widths = canvas.widths
        self._ops: list[str] = []
        self._lines: list[TextLine] = []
        self._measured: dict[str, float] = {}

    def width(self, text: str, size: float) -> float:
        # PageOps.width's sum, kept per text: fitting and aligning measure a text twice.
        found = self._measured.get(text)
        if found is None:
            found = self._measured[text] = sum(map(self._widths, text))
        return found * size

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
        if not text:
            return
        if align == "right":
            x -= self.width(text, size)
        elif align == "centre":
            x -= self.width(text, size) / 2
        self._lines.append(TextLine(x, y, size, text, colour, bold))

    def finish(self) -> None:
        self._canvas.graphics.extend(self._ops)
        self._canvas.lines.extend(self._lines)


def expected_page(
    layout: Layout, receipt: Receipt, widths: Callable[[str], float], face: FontFace
) -> PageModel:
    """The page ``layout`` draws for ``receipt``, text measured with ``widths`` and the seal's
    glyphs taken from ``face``."""
    canvas = RecordingCanvas(widths)
    recording = QR_RECORDING.set(True)  # the QR code's place is recorded, not its modules
    try:
        layout.draw(canvas, receipt, "", face)
    finally:
        QR_RECORDING.reset(recording)
    return PageModel(tuple(canvas.lines), tuple(canvas.graphics))
