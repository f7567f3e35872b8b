"""Decoding the text files the product reads (batch files, bank statements): one rule for all.

Without an explicit encoding, UTF-8 is tried first, with or without a byte-order mark (what
current spreadsheets and most systems write), then GB 18030, which Chinese spreadsheets and
banking software export. GB 18030 is a superset of GBK and GB 2312: a GBK or GB 2312 file decodes
to the same text, and characters GBK lacks (such as 𠈌, four bytes in GB 18030) decode too. A
user who knows the file's encoding names it (``utf-8``, ``gbk``, ``gb18030``, ...) and only that
one is tried.

A file that decodes in neither is reported once, at the first undecodable byte of the encoding
that got furthest (for a GBK file with one damaged byte, that is the damaged byte, not the first
Chinese character UTF-8 stumbled on), as ``FILE:LINE:COLUMN`` with a column in characters.
"""

from __future__ import annotations

import codecs

from receipts.errors import InvalidInput

__all__ = ["FALLBACK_ENCODING", "UndecodableText", "decode_text"]

#: What is tried after UTF-8 when the user names no encoding.
FALLBACK_ENCODING = "gb18030"

_UTF8 = "utf-8"


class UndecodableText(InvalidInput):
    """A file's bytes are not text in the encodings tried; says where the first bad byte is."""

    def __init__(self, name: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{name}:{line}:{column}: {reason}")
        self.name = name
        """The file, as the user named it."""
        self.line = line
        """Line of the first undecodable byte, from 1."""
        self.column = column
        """Its column in characters, from 1."""
        self.reason = reason
        """Which encodings failed, e.g. ``bytes invalid in utf-8 (not gb18030 either)``."""


def decode_text(data: bytes, name: str, encoding: str | None = None) -> str:
    """The text of the file ``name`` holding ``data``, by the rule above; a leading byte-order
    mark is dropped.

    Raises :class:`UndecodableText` when no encoding tried decodes it, and
    :class:`~receipts.errors.InvalidInput` when ``encoding`` is not one Python knows.
    """
    if encoding is None:
        tries = [_UTF8, FALLBACK_ENCODING]
    else:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise InvalidInput(f"unknown encoding {encoding!r}") from None
        tries = [_UTF8 if codec == "utf-8-sig" else codec]
    failures: list[tuple[int, str, bytes]] = []
    for codec in tries:
        body = data.removeprefix(codecs.BOM_UTF8) if codec == _UTF8 else data
        try:
            return body.decode(codec).removeprefix("\ufeff")
        except UnicodeDecodeError as error:
            failures.append((error.start, codec, body))
    # max() keeps the first of equals: at a tie, UTF-8's position is the one reported.
    start, codec, body = max(failures, key=lambda failure: failure[0])
    before = body[:start].decode(codec, errors="replace")
    line = before.count("\n") + 1
    column = len(before) - before.rfind("\n")
    others = "".join(f" (not {other} either)" for other in tries if other != codec)
    raise UndecodableText(name, line, column, f"bytes invalid in {codec}{others}")
