"""The QR code: its text from the receipt's stored QR seal (the classic ``UDR1|…`` text, or from
layout 3 the URL of docs/formats.md "The QR URL"), and its modules as vector rectangles.

Rendering never needs a key: the seal was signed at issue and stored in the XML
(docs/formats.md). The encoder is zxing-cpp (~0.7 ms a code); reportlab's own QR widget costs
~100 ms a page.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from receipts.domain.model import QRSeal, Receipt
from receipts.domain.qr_url import qr_url
from receipts.domain.xmlcodec import qr_payload
from receipts.render.errors import RenderError

__all__ = [
    "QR_ERROR_CORRECTION",
    "QR_RECORDING",
    "QRMatrix",
    "qr_content",
    "qr_matrix",
    "qr_operators",
    "qr_text",
]

#: Error correction level: M (15 %) survives a crease or a smudge at a modest size.
QR_ERROR_CORRECTION = "M"
_DARK_RUN = re.compile(b"\\x00+")


def qr_text(receipt: Receipt) -> str:
    """``UDR1|code|number|check|yyyymmdd|amount|issuer|key_id|seal`` from the stored QR seal:
    the QR code of layouts 1 and 2. A receipt that carries a public base URL is refused: its
    seal signs the URL too, so only its URL verifies (layout 3, :func:`qr_content`)."""
    seal = _seal(receipt)
    if receipt.public_base_url is not None:
        raise RenderError(
            f"receipt {receipt.ref} carries a public base URL, which its QR seal signs: its QR "
            "code is a URL, drawn by layout 3 or later"
        )
    return f"{qr_payload(receipt, seal.key_id).decode('utf-8')}|{seal.value}"


def qr_content(receipt: Receipt) -> str:
    """What layout 3 encodes (docs/formats.md, "The QR URL"): the URL
    ``{public_base_url}/q?c=…&s=…`` when the receipt carries its issuer's public base URL, else
    the classic text of :func:`qr_text` (nothing else could verify: the URL is signed)."""
    seal = _seal(receipt)
    if receipt.public_base_url is None:
        return qr_text(receipt)
    fields = qr_payload(receipt, seal.key_id).decode("utf-8").split("|")[1:-1]
    return qr_url(receipt.public_base_url, "|".join(["UDR1", *fields, seal.value]))


def _seal(receipt: Receipt) -> QRSeal:
    if receipt.seal is None:
        raise RenderError(
            f"receipt {receipt.ref} has no QR seal; only issued (sealed) receipts are rendered"
        )
    return receipt.seal


@dataclass(frozen=True)
class QRMatrix:
    """A QR symbol as runs of dark modules, without its quiet zone."""

    size: int
    """Modules per side."""
    runs: tuple[tuple[int, int, int], ...]
    """Dark runs as (row from the top, first column, length)."""


#: True while a page is recorded for verification (``receipts.render.page_model``): only where
#: the code goes is compared, its modules are decoded from the PDF, so none are encoded.
QR_RECORDING: ContextVar[bool] = ContextVar("QR_RECORDING", default=False)
# A version 1 symbol's size with its top-left finder row: the smallest the operators describe.
_PLACEHOLDER = QRMatrix(21, ((0, 0, 7),))


def qr_matrix(text: str) -> QRMatrix:
    """Encode ``text`` and collect horizontal runs of dark modules (a placeholder while
    :data:`QR_RECORDING`)."""
    if QR_RECORDING.get():
        return _PLACEHOLDER
    import zxingcpp

    barcode = zxingcpp.create_barcode(
        text, zxingcpp.BarcodeFormat.QRCode, ec_level=QR_ERROR_CORRECTION
    )
    # zxing's Image has the buffer protocol; its type stub does not say so.
    image = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    rows, cols = image.shape or (0, 0)
    if rows != cols or rows == 0:
        raise RenderError(f"QR encoder returned a {rows}×{cols} image")
    pixels = image.tobytes()  # one byte a module, row by row; 0 is dark
    # Rows joined with a light separator, so no run crosses a row; one regex pass finds all.
    stride = cols + 1
    joined = b"\xff".join(pixels[row * cols : (row + 1) * cols] for row in range(rows))
    spans = [match.span() for match in _DARK_RUN.finditer(joined)]
    runs = tuple((start // stride, start % stride, end - start) for start, end in spans)
    return QRMatrix(rows, runs)


def qr_operators(matrix: QRMatrix, x: float, y: float, side: float) -> str:
    """PDF operators filling the symbol into the square at (x, y) of ``side`` points.

    The modules are drawn in a coordinate system scaled to one unit per module, so every
    rectangle has small integer coordinates; all of them are filled as one path, so a renderer
    draws no seams between neighbouring modules.
    """
    scale = side / matrix.size
    top = matrix.size
    rects = [f"{col} {top - 1 - row} {length} 1 re" for row, col, length in matrix.runs]
    return (
        f"q 0 0 0 rg {scale:.4f} 0 0 {scale:.4f} {x:.2f} {y:.2f} cm\n" + "\n".join(rects) + "\nf Q"
    )
