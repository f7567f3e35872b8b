"""Hardened parsing of XML that comes from outside: no DTD, no entities, no network, 1 MB at most
(a manifest may have more, with few tags for its size).

Every XML document the product reads from a file, a package or a PDF attachment passes through
:func:`parse_untrusted` before anything else looks at it.
"""

from __future__ import annotations

import threading

from lxml import etree

__all__ = ["MAX_XML_BYTES", "MIN_BYTES_PER_TAG", "UnsafeXML", "parse_untrusted"]

#: Largest XML document accepted from outside (docs/security.md).
MAX_XML_BYTES = 1_000_000
#: A document larger than MAX_XML_BYTES (a manifest, a reconciliation request: machine-written,
#: ~40-120 bytes a tag) may hold one tag in this many bytes at most. lxml keeps ~140 bytes per
#: element: 64 MiB of ``<a/>`` would take ~2.3 GB before any signature is checked; at this
#: density a 64 MiB document stays under ~200 MB. (A smaller one is bounded by its size.)
MIN_BYTES_PER_TAG = 48


class UnsafeXML(ValueError):
    """The document is not well-formed, too large, or uses DTDs, entities or network access."""


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread (lxml parsers are not thread-safe): building one per document cost
    # a third of parsing a receipt. A parser keeps no state between documents.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        collect_ids=False,
    )


def parse_untrusted(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse ``data`` as a standalone XML document and return its root element.

    Refuses (with :class:`UnsafeXML`) documents over ``max_bytes``, documents over
    ``MAX_XML_BYTES`` denser in tags than ``MIN_BYTES_PER_TAG`` allows, any DOCTYPE (which is where
    internal entities, external DTDs and entity-expansion bombs live), entity references and
    processing instructions before the root, and malformed XML. The message names the line.
    """
    if not isinstance(data, bytes | bytearray):
        raise UnsafeXML("XML must be given as bytes")
    if len(data) > max_bytes:
        raise UnsafeXML(f"XML is {len(data):,} bytes; at most {max_bytes:,} are accepted")
    if not data.strip():
        raise UnsafeXML("XML document is empty")
    if len(data) > MAX_XML_BYTES and data.count(b"<") > len(data) // MIN_BYTES_PER_TAG:
        raise UnsafeXML(
            f"XML of {len(data):,} bytes with {data.count(b'<'):,} tags is refused: a document "
            f"over {MAX_XML_BYTES:,} bytes may hold one tag in {MIN_BYTES_PER_TAG} bytes at most "
            "(parsing it would take too much memory)"
        )
    if b"<!DOCTYPE" in data or b"<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E" in data:
        # Caught before lxml sees it, so an external DTD is never even looked for.
        raise UnsafeXML("XML with a DOCTYPE is refused (DTDs and entities are not allowed)")
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        line = f"line {exc.lineno}: " if exc.lineno else ""
        raise UnsafeXML(f"malformed XML: {line}{exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise UnsafeXML("XML with a DOCTYPE is refused (DTDs and entities are not allowed)")
    for node in root.iter(etree.Entity):  # the filter runs in C
        raise UnsafeXML(f"line {node.sourceline}: entity references are not allowed")
    return root
