"""XML schemas shipped as package data, compiled once per process."""

from __future__ import annotations

import functools
from importlib import resources

from lxml import etree

__all__ = ["RECEIPT_NS", "load_schema", "schema_bytes"]

#: Namespace of the receipt XML (docs/formats.md).
RECEIPT_NS = "urn:union-dues-receipt:1"


def schema_bytes(name: str) -> bytes:
    """The raw bytes of ``schemas/<name>``."""
    return resources.files(__name__).joinpath(name).read_bytes()


@functools.cache
def load_schema(name: str) -> etree.XMLSchema:
    """Compile ``schemas/<name>`` once; the parser is hardened like every other one."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(schema_bytes(name), parser))
