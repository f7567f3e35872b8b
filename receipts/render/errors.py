"""Errors of rendering and of reading receipt PDFs, under the package's root error."""

from __future__ import annotations

from pathlib import Path

from receipts.errors import InvalidInput, InvalidReceipt

__all__ = ["FontCoverageError", "FontError", "InvalidPDF", "RenderError"]


class RenderError(InvalidInput):
    """A receipt cannot be rendered: no QR seal, an unknown layout version, an unusable font."""


class FontError(RenderError):
    """A font file cannot be used: missing, unreadable, PostScript outlines, no embedding."""


class FontCoverageError(RenderError):
    """A character to print is not in the font; the message names it, the field and the fix."""

    def __init__(self, field: str, character: str, font: Path) -> None:
        self.field = field
        """The field that holds the character (``payer name``, ``item 2 name``...)."""
        self.character = character
        """The character the font lacks."""
        self.font = font
        """The font that was checked."""
        super().__init__(
            f"{field}: character {character!r} (U+{ord(character):04X}) is not in the font "
            f"{font.name}; configure a fuller TrueType font (`font` under [render] in the "
            f"workspace's receipts.toml)"
        )


class InvalidPDF(InvalidReceipt):
    """Not a PDF, a truncated or damaged one, or a PDF without the receipt XML attached."""
