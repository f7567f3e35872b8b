"""Decode the QR code a receipt page draws (``docs/security.md``, "A receipt PDF").

The code is drawn as vector rectangles, one unit a module (``receipts.render.qr``), so it is
rasterised here exactly, with its quiet zone, and decoded with zxing-cpp: what a phone would
read, without rendering the page.
"""

from __future__ import annotations

__all__ = ["decode_modules"]

_QUIET = 4  # modules of quiet zone around the symbol (ISO/IEC 18004)
# Eight modules (bit i is module i, left to right) as eight pixels: dark 0, light 255.
_PIXELS = [bytes(0 if bits >> i & 1 else 255 for i in range(8)) for bits in range(256)]


def decode_modules(rects: list[tuple[float, ...]]) -> str | None:
    """The text of the QR symbol whose dark modules are ``rects`` (x, y, width, height in
    modules, y upwards); None when they are not whole modules or do not decode. One pixel a
    module is enough for zxing on a pure, axis-aligned symbol."""
    import zxingcpp

    modules = _whole_modules(rects)
    if modules is None:
        return None
    xs, ys, ws, hs = modules
    size = max(max(map(int.__add__, xs, ws)), max(map(int.__add__, ys, hs)))
    if not 21 <= size <= 177:  # QR versions 1 to 40
        return None
    # Each row of modules as the bits of an integer (module x is bit x), then eight modules at
    # a time to pixels: a few operations a rectangle, not a slice of the image each.
    rows = [0] * size
    for x, y, w, h in zip(xs, ys, ws, hs, strict=True):
        run = ((1 << w) - 1) << (x + _QUIET)
        if h == 1:  # as the renderer draws them: runs of one row
            rows[y] |= run
        else:
            for row in range(y, y + h):
                rows[row] |= run
    side = size + 2 * _QUIET
    width = (side + 7) // 8
    white = b"\xff" * side
    image = b"".join(
        [
            white * _QUIET,
            *(
                b"".join([_PIXELS[b] for b in row.to_bytes(width, "little")])[:side]
                for row in reversed(rows)
            ),
            white * _QUIET,
        ]
    )
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


def _whole_modules(
    rects: list[tuple[float, ...]],
) -> tuple[list[int], list[int], list[int], list[int]] | None:
    """The x, y, width and height of every rectangle as integers; None unless each has four
    whole, finite, non-negative numbers (then they are modules, not something else drawn)."""
    try:
        numbers = list(zip(*rects, strict=True))
        columns = [list(map(int, column)) for column in numbers]
    except (ValueError, OverflowError):  # rectangles of different lengths; NaN, infinity
        return None
    if len(columns) != 4 or any(
        ints != list(column) for ints, column in zip(columns, numbers, strict=True)
    ):
        return None
    if min(map(min, columns)) < 0:
        return None
    xs, ys, ws, hs = columns
    return xs, ys, ws, hs
