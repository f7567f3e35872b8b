"""Whether the rendering libraries are at their pins (docs/operations.md, "Pinned rendering
libraries, and the declared floors").

A re-render gives the very bytes of a PDF already handed out only while every library
constraints/rendering.txt pins is installed at its pinned version, as CI's main suite installs
them. The floors job (.ci/floors) installs older versions: there the bytes may differ and the
page may not, so a test of byte equality checks verification by content instead.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

__all__ = ["renderers_as_pinned"]

RENDERING_PINS = Path(__file__).resolve().parent.parent.parent / "constraints" / "rendering.txt"


def renderers_as_pinned() -> bool:
    """Whether every library constraints/rendering.txt pins is installed at its pinned version."""
    for line in RENDERING_PINS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            if metadata.version(name) != pinned:
                return False
    return True
