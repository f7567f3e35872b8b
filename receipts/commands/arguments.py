"""How commands read what people type that is not a file: receipt numbers."""

from __future__ import annotations

from receipts.domain.identifiers import validate_number

__all__ = ["parse_number"]


def parse_number(text: str) -> int:
    """A receipt number as typed: ``42`` or ``0000000042``."""
    return validate_number(int(text) if text.isdigit() and len(text) < 10 else text)
