"""Decode the QR code a receipt page draws (``docs/security.md``, "A receipt PDF").

The code is drawn as vector rectangles, one unit a module (``receipts.render.qr``), so it is
rasterised here exactly, with its quiet zone, and decoded with zxing-cpp: what a phone would
read, without rendering the page.
"""

from __future__ import annotations

__all__ = ["decode_modules"]

_QUIET = 4  # modules of quiet zone around the symbol (ISO/IEC 18004)


def decode_modules(rects: list[tuple[float, ...]]) -> str | None:
    """The text of the QR symbol whose dark modules are ``rects`` (x, y, width, height in
    modules, y upwards); None when they are not whole modules or do not decode. One pixel a
    module is enough for zxing on a pure, axis-aligned symbol."""
    import zxingcpp

    if any(len(rect) != 4 for rect in rects):
        return None
    cells = [(int(x), int(y), int(w), int(h)) for x, y, w, h in rects]
    if not cells or cells != rects or min(map(min, cells)) < 0:
        return None  # not whole modules
    size = max(max(x + w for x, _, w, _ in cells), max(y + h for _, y, _, h in cells))
    if not 21 <= size <= 177:  # QR versions 1 to 40
        return None
    side = size + 2 * _QUIET
    image = bytearray(b"\xff" * side * side)
    dark = b"\x00" * side
    for x, y, w, h in cells:
        for row in range(size - y - h, size - y):
            start = (row + _QUIET) * side + x + _QUIET
            image[start : start + w] = dark[:w]
    found = zxingcpp.read_barcodes(
        memoryview(image).cast("B", (side, side)),
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        try_rotate=False,
        try_downscale=False,
        is_pure=True,
    )
    found = [barcode for barcode in found if barcode.valid]  # zxing may list a failed read
    if len(found) != 1:
        return None
    text: str = found[0].text
    return text
