"""The red seal: a circle, a five-pointed star and the issuer's name around the upper arc.

It is a picture only; the receipt's authenticity is the XML signature and the QR seal. The name
is drawn as glyph outlines, not as text, so it neither disturbs text extraction nor can be
copied as if it were a field. The operators depend only on the name, the font and the geometry,
so they are computed once per issuer in a process.
"""

from __future__ import annotations

import functools
import math

from receipts.render.fonts import FontFace

__all__ = ["SEAL_RED", "seal_operators"]

#: Seal colour (DeviceRGB; the page carries an sRGB output intent).
SEAL_RED = (0.86, 0.08, 0.09)
#: Largest arc the name may cover, and the spacing it keeps when short.
_MAX_SPAN = math.radians(250)
_PREFERRED_STEP = math.radians(24)


@functools.lru_cache(maxsize=64)
def seal_operators(name: str, face: FontFace, cx: float, cy: float, radius: float) -> str:
    """PDF operators drawing the seal centred at (cx, cy); they leave the graphics state as is."""
    red = " ".join(f"{c:.2f}" for c in SEAL_RED)
    ring = radius * 0.05
    ops = [f"q {red} rg {red} RG {ring:.2f} w", _circle(cx, cy, radius - ring / 2) + " S"]
    ops.append(_star(cx, cy, radius * 0.3) + " f")
    ops.extend(_arc_text(name, face, cx, cy, radius - ring))
    ops.append("Q")
    return "\n".join(ops)


def _circle(cx: float, cy: float, r: float) -> str:
    # Four Bézier quarter arcs; k is the standard control-point distance for a circle.
    k = r * 0.5523
    return (
        f"{cx + r:.2f} {cy:.2f} m "
        f"{cx + r:.2f} {cy + k:.2f} {cx + k:.2f} {cy + r:.2f} {cx:.2f} {cy + r:.2f} c "
        f"{cx - k:.2f} {cy + r:.2f} {cx - r:.2f} {cy + k:.2f} {cx - r:.2f} {cy:.2f} c "
        f"{cx - r:.2f} {cy - k:.2f} {cx - k:.2f} {cy - r:.2f} {cx:.2f} {cy - r:.2f} c "
        f"{cx + k:.2f} {cy - r:.2f} {cx + r:.2f} {cy - k:.2f} {cx + r:.2f} {cy:.2f} c h"
    )


def _star(cx: float, cy: float, r: float) -> str:
    inner = r * 0.382  # the golden-ratio inner radius of a regular five-pointed star
    points = []
    for i in range(10):
        angle = math.pi / 2 + i * math.pi / 5
        dist = r if i % 2 == 0 else inner
        points.append((cx + dist * math.cos(angle), cy + dist * math.sin(angle)))
    first, *rest = points
    return (
        f"{first[0]:.2f} {first[1]:.2f} m " + " ".join(f"{x:.2f} {y:.2f} l" for x, y in rest) + " h"
    )


def _arc_text(name: str, face: FontFace, cx: float, cy: float, inner: float) -> list[str]:
    """Each character upright towards the rim, read clockwise, centred on the top."""
    count = len(name)
    if count == 0:
        return []
    step = min(_PREFERRED_STEP, _MAX_SPAN / max(count - 1, 1))
    # The em size follows the spacing (measured where the glyphs' middles sit) so that long
    # names shrink rather than overlap.
    em = min(inner * 0.26, inner * 0.72 * step * 0.95)
    baseline = inner - em * 0.95  # glyph tops just inside the ring
    scale = em / face.units_per_em
    start = math.pi / 2 + step * (count - 1) / 2
    ops = []
    for index, char in enumerate(name):
        glyph = face.glyph(char)
        theta = start - index * step
        sin, cos = math.sin(theta), math.cos(theta)
        # Glyph x axis along the clockwise tangent (sin, -cos), y axis outwards (cos, sin);
        # the origin is moved back by half the advance so the glyph is centred on its angle.
        half = glyph.advance * scale / 2
        tx = cx + baseline * cos - half * sin
        ty = cy + baseline * sin + half * cos
        ops.append(
            f"q {scale * sin:.5f} {-scale * cos:.5f} {scale * cos:.5f} {scale * sin:.5f} "
            f"{tx:.2f} {ty:.2f} cm {glyph.path} f Q"
        )
    return ops
