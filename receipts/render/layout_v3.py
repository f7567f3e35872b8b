"""Layout version 3: layout 2's page whose QR code a phone opens (docs/formats.md, "The QR URL").
Released: never change what it draws.

Everything but the QR code's content is layout 2's, drawn by layout 2's own (released, frozen)
functions, so the two cannot drift apart. The QR code encodes the URL
``{public_base_url}/q?c=…&s=…`` when the signed XML carries the issuer's public base URL, and the
classic ``UDR1|…`` text when it does not (a receipt issued without ``[serve] public_base_url``:
its seal signs no URL, so no URL could verify). The symbol keeps layout 2's 24 mm square: a URL
under a base of some 30 characters is a version 10 symbol (57 modules, about 0.42 mm each),
beside version 8 (49 modules) for the classic text.
"""

from __future__ import annotations

from typing import Any

from receipts.domain.enums import ReceiptKind
from receipts.domain.model import Receipt
from receipts.render import layout_v2 as v2
from receipts.render.fonts import FontFace
from receipts.render.page import Layout, PageOps
from receipts.render.qr import qr_content, qr_matrix, qr_operators
from receipts.render.seal import seal_operators

__all__ = ["LAYOUT"]


def draw(c: Any, receipt: Receipt, font: str, face: FontFace) -> None:
    """Draw the page for ``receipt`` on canvas ``c``: layout 2's ``draw`` but for the QR code."""
    reversal = receipt.kind is ReceiptKind.REVERSAL
    page = PageOps(c, font)
    symbol = qr_matrix(qr_content(receipt))
    page.literal(qr_operators(symbol, v2.LEFT, v2.TOP - v2.QR_SIDE, v2.QR_SIDE))
    v2._header(page, receipt, reversal)
    v2._table(page, receipt, reversal)
    v2._footer(page, receipt)
    page.finish()
    c.addLiteral(seal_operators(receipt.issuer.name, face, v2.LEFT + 118, 50.0, 31.0))


LAYOUT = Layout(
    version=3,
    title=v2.TITLE,
    pagesize=v2.LAYOUT.pagesize,
    draw=draw,
    printed=v2.printed,
    fixed_text=v2.LAYOUT.fixed_text,
    qr=qr_content,
)
