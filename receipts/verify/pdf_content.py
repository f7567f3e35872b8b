"""Verification of a receipt PDF by what its page shows, not by its bytes
(``docs/security.md``, "A receipt PDF").

The rendered revision of the PDF is read: nothing besides the page (:mod:`.pdf_structure`);
every font embedded with the reference glyphs for digits and capitals (:mod:`.pdf_fonts`); the
page's text and graphics (:mod:`.pdf_page`) against the page the PDF's layout version draws for
the attached XML (:func:`receipts.render.page_model.expected_page`), measured with the embedded
fonts' widths: each line of text with its place, size and colour, every graphics operator, the
QR code decoded (:mod:`.pdf_qr`). None of this depends on the bytes reportlab, pikepdf, zlib or
zxing-cpp produce, nor on the font the verifier is configured with.
"""

from __future__ import annotations

from typing import Any

from receipts.domain.model import Receipt
from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.render.errors import InvalidPDF
from receipts.render.extract import MAX_STREAM_BYTES, decoded_stream, open_pdf
from receipts.render.layout import get_layout
from receipts.render.page import Layout
from receipts.render.page_model import PageModel, TextLine, expected_page
from receipts.verify.pdf_fonts import EmbeddedFace, PageFonts, glyph_findings, read_fonts
from receipts.verify.pdf_page import (
    Op,
    PageContent,
    ShownLine,
    parse_operators,
    qr_block,
    read_page,
)
from receipts.verify.pdf_qr import decode_modules
from receipts.verify.pdf_structure import structure_findings

__all__ = ["content_findings"]

# The page writes positions and sizes with two decimals, and the widths it declares are
# rounded to 1/10,000 em: a place within 0.05 pt is the layout's place.
_PLACE = 0.05
_NUMBER = 0.011  # graphics operands, written with two decimals from the same numbers
_MAX_SHOWN = 3  # differences named in one finding
_QR_START = "q 0 0 0 rg "


def content_findings(data: bytes, receipt: Receipt, layout_version: int) -> list[Finding]:
    """Findings on the rendered PDF ``data`` (one revision) against ``receipt``, the attached
    XML already verified, drawn with ``layout_version``."""
    try:
        layout = get_layout(layout_version)
        pdf = open_pdf(data)
    except ReceiptError as exc:
        return [Finding(FindingCode.INVALID_PDF, str(exc))]
    with pdf:
        findings = structure_findings(pdf, layout)
        if not len(pdf.pages):
            return findings
        page = pdf.pages[0].obj
        fonts, problems = read_fonts(page.get("/Resources"))
        if problems:  # the page cannot be read without its fonts
            return findings + problems
        try:
            findings += glyph_findings(fonts)
            face = EmbeddedFace(fonts)
        except Exception as exc:  # fontTools on a hostile program: any error means unreadable
            findings.append(
                Finding(
                    FindingCode.PDF_FONT_NOT_EMBEDDED, f"an embedded font cannot be read: {exc}"
                )
            )
            return findings
        try:
            content = _content(page)
        except ReceiptError as exc:
            findings.append(Finding(FindingCode.PDF_OVERLAY, f"the page cannot be read: {exc}"))
            return findings
    shown = read_page(content, fonts)
    try:
        expected = expected_page(layout, receipt, fonts.width, face)
    except ReceiptError as exc:
        return [*findings, Finding(FindingCode.RENDER_FAILED, f"the layout cannot draw it: {exc}")]
    findings += _drawing_findings(shown, expected, layout, receipt)
    findings += _text_findings(shown.lines, expected.lines, layout, receipt, fonts)
    return findings


def _content(page: Any) -> bytes:
    """The page's content, at most MAX_STREAM_BYTES inflated in all: each stream of a
    ``/Contents`` array had its own cap, and one stream listed a thousand times inflated to
    gigabytes from a 45 KB upload (found by an adversarial review)."""
    import pikepdf

    contents = page.get("/Contents")
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    parts: list[bytes] = []
    left = MAX_STREAM_BYTES
    for stream in streams:
        if stream is None:
            continue
        part = decoded_stream(stream, "the page's content")
        left -= len(part) + 1
        if left < 0:
            raise InvalidPDF(
                f"the page's content inflates to more than {MAX_STREAM_BYTES:,} bytes in all"
            )
        parts.append(part)
    return b"\n".join(parts)


def _drawing_findings(
    shown: PageContent, expected: PageModel, layout: Layout, receipt: Receipt
) -> list[Finding]:
    findings = [Finding(FindingCode.PDF_OVERLAY, f"the page has {p}") for p in shown.problems]
    wanted: list[Op] = []
    qr_wanted: tuple[tuple[float, ...], int] | None = None
    for text in expected.graphics:
        if qr_wanted is None and text.startswith(_QR_START):
            qr_wanted = _qr_literal(text)
        else:
            wanted += parse_operators(text)
    actual = list(shown.graphics)
    qr_actual = shown.qr
    if qr_actual is None:
        block = qr_block(actual)
        if block is not None:
            del actual[block[0] : block[1] + 1]
            qr_actual = block[2], block[3]
    if qr_actual is None:
        findings.append(Finding(FindingCode.PDF_QR_MISMATCH, "the page has no QR code"))
    else:
        findings += _qr_findings(qr_actual[0], qr_actual[1], qr_wanted, layout, receipt)
    difference = _first_difference(wanted, actual)
    if difference is not None:
        findings.append(
            Finding(
                FindingCode.PDF_OVERLAY,
                f"the page's graphics are not its layout's (from operator {difference}): "
                "something was drawn over, under or instead of the layout's lines and seal",
            )
        )
    return findings


def _first_difference(wanted: list[Op], actual: list[Op]) -> str | None:
    for index, (want, got) in enumerate(zip(wanted, actual, strict=False)):
        if want == got:
            continue
        if (
            want[0] != got[0]
            or len(want[1]) != len(got[1])
            or any(abs(a - b) > _NUMBER for a, b in zip(want[1], got[1], strict=True))
        ):
            return f"{index}: {_op(got)} where the layout draws {_op(want)}"
    if len(wanted) != len(actual):
        extra = actual[len(wanted)] if len(actual) > len(wanted) else None
        return (
            f"{len(wanted)}: {_op(extra)} after the layout's last"
            if extra is not None
            else f"{len(actual)}: the layout's {_op(wanted[len(actual)])} is missing"
        )
    return None


def _op(op: Op) -> str:
    return " ".join([*(f"{v:g}" for v in op[1]), op[0]])


def _qr_literal(text: str) -> tuple[tuple[float, ...], int]:
    """The matrix and module count of the QR code as :func:`receipts.render.qr.qr_operators`
    writes it: its first rectangle is on the symbol's top row (a finder pattern's), at
    ``y = modules - 1``. Recorded with a placeholder symbol: the scale times the module count
    is the side the layout gives the code, whatever symbol version the text needs."""
    head, first = text.split("\n", 2)[:2]
    matrix = parse_operators(head)[2][1]
    return matrix, int(float(first.split()[1])) + 1


def _qr_findings(
    matrix: tuple[float, ...],
    rects: list[tuple[float, ...]],
    wanted: tuple[tuple[float, ...], int] | None,
    layout: Layout,
    receipt: Receipt,
) -> list[Finding]:
    if wanted is not None:
        want_matrix, want_modules = wanted
        side = matrix[0] * _modules(rects)
        want_side = want_matrix[0] * want_modules
        if (
            matrix[1] != 0
            or matrix[2] != 0
            or matrix[0] != matrix[3]
            or abs(side - want_side) > _PLACE
            or abs(matrix[4] - want_matrix[4]) > _PLACE
            or abs(matrix[5] - want_matrix[5]) > _PLACE
        ):
            return [
                Finding(
                    FindingCode.PDF_QR_MISMATCH,
                    "the page's QR code is not where and as large as its layout draws it",
                )
            ]
    text = decode_modules(rects)
    if text is None:
        return [Finding(FindingCode.PDF_QR_MISMATCH, "the page's QR code does not decode")]
    if text != layout.qr(receipt):
        return [
            Finding(
                FindingCode.PDF_QR_MISMATCH,
                f"the page's QR code reads {text[:60]!r}…, not the attached XML's QR seal",
            )
        ]
    return []


def _modules(rects: list[tuple[float, ...]]) -> float:
    """Modules a side: every symbol has dark modules on its top row and its right column."""
    return max((r[1] + r[3] for r in rects if len(r) == 4), default=0.0)


def _text_findings(
    shown: list[ShownLine],
    expected: tuple[TextLine, ...],
    layout: Layout,
    receipt: Receipt,
    fonts: PageFonts,
) -> list[Finding]:
    """Each line the layout prints must be on the page, at its place, in its size, colour and
    weight; and nothing else."""
    unmatched = list(shown)
    problems: list[str] = []
    fields = layout.printed(receipt)
    for line in expected:
        found = next((s for s in unmatched if _at(s, line)), None)
        if found is None:
            problems.append(
                f"no {_field(line.text, fields)} {line.text!r} where the layout puts it"
            )
            continue
        unmatched.remove(found)
        if found.text != line.text:
            problems.append(
                f"{found.text!r} where the XML's {_field(line.text, fields)} is {line.text!r}"
                + ("" if all(map(fonts.covers, line.text)) else " (no embedded font has it)")
            )
        elif not _looks(found, line):
            problems.append(f"{line.text!r} in another size, colour or weight than the layout's")
    problems += [f"{s.text!r}, which the layout does not print there" for s in unmatched]
    if not problems:
        return []
    more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
    return [
        Finding(
            FindingCode.PDF_TEXT_MISMATCH,
            "the page does not show what the attached XML holds: "
            + "; ".join(problems[:_MAX_SHOWN])
            + more,
        )
    ]


def _at(shown: ShownLine, line: TextLine) -> bool:
    return abs(shown.x - line.x) <= _PLACE and abs(shown.y - line.y) <= _PLACE


def _looks(shown: ShownLine, line: TextLine) -> bool:
    colour = tuple(round(c, 2) for c in line.colour)
    if abs(shown.size - line.size) > _PLACE or shown.fill != colour:
        return False
    if line.bold:
        return shown.mode == 2 and shown.stroke == colour and abs(shown.line_width - 0.35) < 0.01
    return shown.mode == 0


def _field(text: str, fields: list[tuple[str, str]]) -> str:
    """The printed field ``text`` is (part of), for the message; labels are layout text."""
    for name, value in fields:
        if text and text in value:
            return name
    return "layout text"
