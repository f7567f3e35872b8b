"""Receipt PDFs: render the signed XML, read it back, sign it (PAdES).

Many at once: :mod:`receipts.render.batch`.

A PDF is one A5-landscape page showing every field of the signed XML, with the QR code from the
XML's stored QR seal and a red seal drawn from the issuer's name, in a font embedded in the file.
The signed XML is attached byte for byte as ``receipt.xml`` (a PDF/A-3 associated file), so the
PDF alone is verifiable. The same XML with the same layout version always gives the same bytes:
the document ID comes from the XML's SHA-256, the dates from the issue time, and the layout
version is recorded in the XMP metadata so an old receipt can be drawn again exactly.

Importing this module is cheap: reportlab, zxing-cpp, pikepdf and pyHanko are imported by the
functions that use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from receipts.domain.model import Receipt
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.render.errors import FontCoverageError, FontError, InvalidPDF, RenderError
from receipts.render.fonts import check_coverage, load_face, register_font, resolve_font
from receipts.render.layout import LATEST_LAYOUT, LAYOUTS, get_layout
from receipts.render.qr import qr_content, qr_text

if TYPE_CHECKING:
    from cryptography import x509

    from receipts.render.pades import PdfSigner
    from signing.keys import PrivateKey

__all__ = [
    "LATEST_LAYOUT",
    "LAYOUTS",
    "FontCoverageError",
    "FontError",
    "InvalidPDF",
    "RenderError",
    "check_printable",
    "extract_xml",
    "pdf_signer",
    "qr_text",
    "read_layout_version",
    "render_pdf",
    "sign_pdf",
]


def render_pdf(
    signed_xml: bytes,
    *,
    font_path: Path | str | None = None,
    layout_version: int = LATEST_LAYOUT,
) -> bytes:
    """The PDF of the receipt in ``signed_xml``, with those exact bytes attached.

    ``font_path`` is a workspace's configured font (``WorkspaceConfig.font``); None uses the
    shipped one. Raises :class:`~receipts.errors.InvalidReceipt` (or a subclass) for XML that is
    not a valid receipt, :class:`RenderError` for a receipt without a QR seal or an unknown
    layout version, :class:`FontCoverageError` when the font lacks a character to print.
    """
    receipt = parse_receipt_xml(signed_xml)
    layout = get_layout(layout_version)
    path = resolve_font(font_path)
    face = load_face(path)
    qr_content(receipt)  # refuses an unsealed receipt before anything is drawn
    check_coverage(face, [*layout.printed(receipt), ("layout text", layout.fixed_text)])
    font = register_font(path)
    from receipts.render.document import write_receipt

    return write_receipt(receipt, signed_xml, layout, font, face)


def check_printable(
    source: Receipt | Mapping[str, str],
    font: Path | str | None = None,
    *,
    layout_version: int = LATEST_LAYOUT,
) -> None:
    """Refuse, before a number is taken, a receipt whose text the font cannot print.

    ``source`` is a receipt (every printed field is checked) or a mapping of field names to
    text. ``font`` is the workspace's configured font, None for the shipped one. The
    :class:`FontCoverageError` names the field and the character (``U+XXXX``) and suggests
    configuring a fuller font.
    """
    layout = get_layout(layout_version)
    face = load_face(resolve_font(font))
    fields = layout.printed(source) if isinstance(source, Receipt) else list(source.items())
    check_coverage(face, [*fields, ("layout text", layout.fixed_text)])


def extract_xml(pdf: bytes) -> bytes:
    """The attached ``receipt.xml``, exactly as it was attached; :class:`InvalidPDF` for
    something that is not a PDF, is truncated or damaged, or has no (intact) attachment."""
    from receipts.render.extract import extract_attachment

    return extract_attachment(pdf)


def read_layout_version(pdf: bytes) -> int:
    """The layout version a receipt PDF records (XMP ``udr:LayoutVersion``)."""
    from receipts.render.extract import layout_version_of

    return layout_version_of(pdf)


def pdf_signer(
    key: PrivateKey, cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()
) -> PdfSigner:
    """A PAdES B-B signer holding the loaded key: build it once, sign many PDFs with it."""
    from receipts.render.pades import PdfSigner

    return PdfSigner(key, cert, chain)


def sign_pdf(
    pdf: bytes,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """``pdf`` with a PAdES B-B signature added as an incremental update (the attachment is in
    the signed revision). For many PDFs, use one :func:`pdf_signer` instead."""
    return pdf_signer(key, cert, chain).sign(pdf)
