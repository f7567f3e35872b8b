"""Version 2's receipt listing, ``receipts.csv`` (docs/formats.md, "Transmission packages and
acknowledgements"): one line per receipt, ``CODE,NUMBER,ISSUER,DIGEST`` (8 digits, 10 digits,
6 digits, 64 lowercase hex digits; ``\\n``-terminated; no header), in strictly ascending order
of code and number. The member's SHA-256 is in the signed manifest like any other member's.

The order is what lets an import check the listing in bounded memory: a line that is not
greater than the one before is a duplicate (or out of order) and refused, so no set of the
receipts seen is kept; and the receipt members, named ``receipts/CODE-NUMBER.xml``, come in the
same order as the zip stores them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from receipts.domain import divisions
from receipts.transmission.package import LISTING, ListedReceipt, Manifest, RefusedPackage

__all__ = ["LINE_BYTES", "read_listing"]

_LINE = re.compile(rb"([0-9]{8}),([0-9]{10}),([0-9]{6}),([0-9a-f]{64})\n")
LINE_BYTES = 8 + 1 + 10 + 1 + 6 + 1 + 64 + 1
"""Every line's length."""


def read_listing(lines: Iterable[bytes], manifest: Manifest, what: str) -> Iterator[ListedReceipt]:
    """The listed receipts, line by line, each checked: its form, its place (strictly after the
    line before: no duplicate), its issuer (the sender or one of its city-tier federations);
    once the last line has been read, the member's digest against the signed manifest and the
    count per issuer against the manifest's. A refusal raises :class:`RefusedPackage` where it
    is found (the caller's transaction, if any, rolls back)."""
    running = hashlib.sha256()
    previous = b""
    counts: dict[str, int] = {}
    allowed: dict[str, bool] = {}
    for line in lines:
        running.update(line)
        found = _LINE.fullmatch(line)
        if found is None:
            raise RefusedPackage(f"{what}: {LISTING} has a malformed line: {line[:100]!r}")
        key = line[:19]  # CODE,NUMBER: fixed width, so bytes order is code-then-number order
        if key <= previous:
            raise RefusedPackage(
                f"{what}: {LISTING} lists {key.decode()} twice or out of order "
                "(the listing is in ascending code and number)"
            )
        previous = key
        code, number, issuer, digest = (g.decode("ascii") for g in found.groups())
        ok = allowed.get(issuer)
        if ok is None:
            ok = allowed[issuer] = issuer == manifest.sender or (
                divisions.upstream_of(issuer) == manifest.sender
            )
        if not ok:
            raise RefusedPackage(
                f"{what}: receipt {code}-{number} was issued by {issuer}, which is neither "
                f"{manifest.sender} nor one of its city-tier federations"
            )
        counts[issuer] = counts.get(issuer, 0) + 1
        yield ListedReceipt(code, int(number), issuer, digest)
    if running.hexdigest() != manifest.members.get(LISTING):
        raise RefusedPackage(
            f"{what}: member {LISTING} was changed (digest differs from the signed manifest)"
        )
    stated = {issuer: count for issuer, (count, _) in manifest.issuers.items()}
    if counts != stated:
        raise RefusedPackage(f"{what}: {LISTING} does not list the counts per issuer stated")
