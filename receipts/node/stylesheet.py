"""The pages' one stylesheet, served by the node itself (``/static/node.css``): no third-party
assets, and ``style-src 'self'`` in the CSP suffices (docs/security.md)."""

from __future__ import annotations

import functools
from importlib.resources import files

from starlette.responses import Response

__all__ = ["stylesheet_response"]


@functools.cache
def _stylesheet() -> bytes:
    return files("receipts.node").joinpath("static/node.css").read_bytes()


def stylesheet_response() -> Response:
    """The stylesheet; the only response a browser may cache (a day)."""
    return Response(
        _stylesheet(),
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "public, max-age=86400"},
    )
