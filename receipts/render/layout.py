"""Page layouts by version.

A PDF records the layout version it was drawn with (XMP ``udr:LayoutVersion``), and the same
XML with the same version must always give the same bytes. So a released layout is never
edited: a changed page is a new version (a new ``layout_vN`` module) registered beside the old
ones, and old receipts can still be rendered exactly as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from receipts.render import layout_v1, layout_v2, layout_v3
from receipts.render.errors import RenderError
from receipts.render.page import Layout

__all__ = ["LATEST_LAYOUT", "LAYOUTS", "get_layout"]

#: Layouts by version; a PDF names its version, so every released one stays here.
LAYOUTS: Mapping[int, Layout] = MappingProxyType(
    {1: layout_v1.LAYOUT, 2: layout_v2.LAYOUT, 3: layout_v3.LAYOUT}
)
#: The version new PDFs are drawn with.
LATEST_LAYOUT = max(LAYOUTS)


def get_layout(version: int) -> Layout:
    """The layout of ``version``, or a :class:`RenderError` listing the known ones."""
    try:
        return LAYOUTS[version]
    except (KeyError, TypeError):
        known = ", ".join(str(v) for v in sorted(LAYOUTS))
        raise RenderError(f"unknown layout version {version!r} (known: {known})") from None
