"""The printed QR code: rendered with pdfium, decoded with zxing-cpp, its seal verified; and
the red reversal amounts, seen on the rendered page."""

from __future__ import annotations

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.render.receipt_pdf import RenderError, qr_text
from signing.certificate_profile import key_id
from signing.seal import verify_seal
from tests.support.pdf import (
    normal_pdf,
    normal_receipt,
    normal_xml,
    pdftotext,
    reversal_pdf,
    reversal_xml,
)
from tests.support.pki import build_pki

DPI = 200


def _page_image(pdf: bytes, dpi: int = DPI) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=dpi / 72).to_pil()
        return image
    finally:
        document.close()


def _decode(pdf: bytes) -> str:
    results = zxingcpp.read_barcodes(
        _page_image(pdf), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(results) == 1
    text: str = results[0].text
    return text


@pytest.mark.parametrize(
    ("pdf", "xml", "payload"),
    [
        (normal_pdf, normal_xml, "UDR1|64710126|0000000001|k3x9q2|20261128|3532.95|640100|"),
        (reversal_pdf, reversal_xml, "UDR1|64710126|0000000002|r7t5w1|20261128|-3532.95|640100|"),
    ],
)
def test_qr_code_reads_back_and_its_seal_verifies(pdf: object, xml: object, payload: str) -> None:
    assert callable(pdf) and callable(xml)
    pki = build_pki()
    text = _decode(pdf())
    receipt = parse_receipt_xml(xml())
    assert receipt.seal is not None
    kid = key_id(pki.city.cert)
    assert text == f"{payload}{kid}|{receipt.seal.value}" == qr_text(receipt)
    signed, _, seal = text.rpartition("|")
    assert verify_seal(pki.city.cert, signed.encode("utf-8"), seal)
    # The seal covers the amount: another amount does not verify.
    forged = signed.replace("|3532.95|", "|9532.95|").replace("|-3532.95|", "|-9532.95|")
    assert not verify_seal(pki.city.cert, forged.encode("utf-8"), seal)


def test_qr_text_needs_the_stored_seal() -> None:
    with pytest.raises(RenderError, match="no QR seal"):
        qr_text(normal_receipt())


def _word_box(pdf: bytes, word: str) -> tuple[float, float, float, float]:
    """The box (points, from the top left) of ``word`` in pdftotext's bounding-box output."""
    for line in pdftotext(pdf, "-bbox").splitlines():
        if line.strip().startswith("<word") and line.strip().endswith(f">{word}</word>"):
            attrs = dict(part.split("=") for part in line.split(">")[0].split()[1:])
            return tuple(float(attrs[k].strip('"')) for k in ("xMin", "yMin", "xMax", "yMax"))  # type: ignore[return-value]
    raise AssertionError(f"{word} is not on the page")


def _ink(pdf: bytes, word: str) -> tuple[int, int]:
    """(red pixels, dark pixels) inside ``word``'s box on the rendered page."""
    scale = DPI / 72
    x0, y0, x1, y1 = _word_box(pdf, word)
    crop = (
        _page_image(pdf)
        .convert("RGB")
        .crop((int(x0 * scale), int(y0 * scale), int(x1 * scale) + 1, int(y1 * scale) + 1))
    )
    raw = crop.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    red = sum(1 for r, g, b in pixels if r > 150 and g < 110 and b < 110)
    dark = sum(1 for r, g, b in pixels if r < 90 and g < 90 and b < 90)
    return red, dark


def test_reversal_amounts_are_red_and_normal_ones_black() -> None:
    red, dark = _ink(reversal_pdf(), "-2000.00")
    assert red > 20 and dark == 0
    red, dark = _ink(normal_pdf(), "2000.00")
    assert red == 0 and dark > 20
    red, dark = _ink(reversal_pdf(), "¥-3532.95")
    assert red > 20 and dark == 0
