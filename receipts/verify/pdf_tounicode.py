"""A font's ``/ToUnicode`` CMap read as one-byte codes to text (``docs/security.md``, "A
receipt PDF"): what the page's text is read through (:mod:`receipts.verify.pdf_fonts`)."""

from __future__ import annotations

import functools
import re

__all__ = ["to_unicode"]

_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")


def to_unicode(data: bytes) -> dict[int, str]:
    """The one-byte codes of a ToUnicode CMap (``bfchar`` and ``bfrange``): a map is read
    once per process and kept by its bytes (a page's map is the same for every page of its
    font subset; what it reads as depends on nothing else), a copy handed out each time."""
    if len(data) > _KEPT_MAP_BYTES:
        return _read_to_unicode(data)
    return dict(_kept_to_unicode(data))


_KEPT_MAP_BYTES = 65_536


def _read_to_unicode(data: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in _BFCHAR.findall(data):
        values = _HEX.findall(block)
        pairs = len(values) // 2
        sources, targets = values[: 2 * pairs : 2], values[1 : 2 * pairs : 2]
        if not _bfchar_at_once(sources, targets, mapping):
            for source, target in zip(sources, targets, strict=True):
                mapping[_code(source)] = _char(target)
    for block in _BFRANGE.findall(data):
        values = _HEX.findall(block)
        for low, high, start in zip(values[::3], values[1::3], values[2::3], strict=False):
            first, base = _code(low), ord(_char(start))
            for offset in range(_code(high) - first + 1):
                mapping[first + offset] = chr(base + offset)
    return mapping


_kept_to_unicode = functools.lru_cache(maxsize=32)(_read_to_unicode)
_SPACE = b" \t\n\r\f\v"  # what the expressions' \s matches


def _bfchar_at_once(sources: list[bytes], targets: list[bytes], mapping: dict[int, str]) -> bool:
    """A ``bfchar`` block as reportlab writes it (two hex digits a code, four a character
    of the Basic Multilingual Plane, no spaces inside) read in one pass; False, and nothing
    added, for anything else (read pair by pair then)."""
    if not sources or set(map(len, sources)) != {2} or set(map(len, targets)) != {4}:
        return False
    codes, text = b"".join(sources), b"".join(targets)
    if len(codes.translate(None, _SPACE)) != len(codes) or len(text.translate(None, _SPACE)) != len(
        text
    ):
        return False
    try:
        chars = bytes.fromhex(text.decode("ascii")).decode("utf-16-be")
    except ValueError:
        return False  # a surrogate half alone: the pair by pair reading says so
    if len(chars) != len(sources):
        return False  # surrogate pairs across targets: not one character a target
    mapping.update(zip(bytes.fromhex(codes.decode("ascii")), chars, strict=True))
    return True


def _code(hex_digits: bytes) -> int:
    code = int(b"".join(hex_digits.split()) or b"0", 16)
    if code > 0xFF:
        raise ValueError("maps codes of more than one byte; a receipt page uses one-byte codes")
    return code


def _text(hex_digits: bytes) -> str:
    return bytes.fromhex(b"".join(hex_digits.split()).decode("ascii")).decode("utf-16-be")


def _char(hex_digits: bytes) -> str:
    """The one character a code stands for. A code read as several (a whole line of text, to
    the checks) could be drawn with one glyph of anything: its glyph and width matched no
    character of the reference font and went unjudged (found by an adversarial review)."""
    text = _text(hex_digits)
    if len(text) != 1:
        raise ValueError(f"maps a code to {len(text)} characters; a receipt's fonts map one")
    return text
