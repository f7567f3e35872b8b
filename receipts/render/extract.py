"""Read a receipt PDF back: the attached signed XML, exactly, and the layout version.

A PDF from outside is untrusted: it must look like a whole PDF (header, end-of-file marker), open
without qpdf having to repair it, and carry ``receipt.xml`` whose size and MD5 match what the
file declares; otherwise :class:`InvalidPDF` says which of these failed. Streams are inflated
with a cap (:data:`MAX_STREAM_BYTES`), so a compression bomb in a small PDF is refused, not read.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import Any

from lxml import etree

from receipts.render.errors import InvalidPDF
from receipts.render.pdfa import ATTACHMENT_NAME, LAYOUT_VERSION_PROPERTY, UDR_XMP_NS

__all__ = [
    "MAX_STREAM_BYTES",
    "decoded_stream",
    "extract_attachment",
    "layout_version_of",
    "open_pdf",
]

# The PDF specification puts the header in the first 1024 bytes and "%%EOF" in the last 1024.
_WINDOW = 1024
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MAX_STREAM_BYTES = 1_000_000
"""The attached XML and the XMP metadata are inflated to at most this: a signed receipt is
parsed only up to 1,000,000 bytes (``signing.xmlparse.MAX_XML_BYTES``) and is ~6 KB."""


def extract_attachment(data: bytes) -> bytes:
    """The bytes of the attached ``receipt.xml``."""
    with _open(data) as pdf:
        spec = _filespec(pdf)
        if spec is None:
            raise InvalidPDF(f"the PDF has no {ATTACHMENT_NAME} attachment (not a receipt PDF?)")
        import pikepdf

        try:
            stream = spec.EF.get("/UF") or spec.EF.F
            content = _decoded(stream, f"the attached {ATTACHMENT_NAME}")
        except (AttributeError, pikepdf.PdfError) as exc:
            raise InvalidPDF(f"the attached {ATTACHMENT_NAME} cannot be read: {exc}") from None
        _check_params(stream, content)
        return content


def layout_version_of(data: bytes) -> int:
    """The ``udr:LayoutVersion`` recorded in the PDF's XMP metadata."""
    with _open(data) as pdf:
        metadata = pdf.Root.get("/Metadata")
        if metadata is None:
            raise InvalidPDF("the PDF has no XMP metadata (not a receipt PDF?)")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(_decoded(metadata, "the PDF's XMP metadata"), parser)
        except etree.XMLSyntaxError as exc:
            raise InvalidPDF(f"the PDF's XMP metadata is not well-formed XML: {exc}") from None
        text = _xmp_property(root, f"{{{UDR_XMP_NS}}}{LAYOUT_VERSION_PROPERTY}")
        if not text.isdigit():
            raise InvalidPDF("the PDF's metadata records no layout version (not a receipt PDF?)")
        return int(text)


def _xmp_property(root: etree._Element, name: str) -> str:
    """A simple XMP property, written as an element or (as some tools rewrite it) as an
    attribute of its ``rdf:Description``; both are the same RDF."""
    found = root.find(f".//{name}")
    if found is not None:
        return (found.text or "").strip()
    for description in root.iter(f"{{{_RDF_NS}}}Description"):
        value = description.get(name)
        if value is not None:
            return value.strip()
    return ""


def open_pdf(data: bytes) -> Any:
    """A pikepdf ``Pdf`` of ``data`` (close it), or :class:`InvalidPDF` for something that is
    not a whole PDF or needs repairing to open."""
    return _open(data)


def decoded_stream(stream: Any, what: str) -> bytes:
    """A stream's data inflated with the cap of :data:`MAX_STREAM_BYTES` (:func:`_decoded`)."""
    return _decoded(stream, what)


def _open(data: bytes) -> Any:
    import pikepdf

    if not isinstance(data, bytes | bytearray) or b"%PDF-" not in data[:_WINDOW]:
        raise InvalidPDF("not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-_WINDOW:]:
        raise InvalidPDF(f"truncated PDF: no %%EOF marker at the end of its {len(data):,} bytes")
    try:
        pdf = pikepdf.open(io.BytesIO(data), attempt_recovery=False)
    except pikepdf.PdfError as exc:
        raise InvalidPDF(f"damaged PDF: {exc}") from None
    problems = pdf.get_warnings()
    if problems:
        pdf.close()
        raise InvalidPDF(f"damaged PDF: {problems[0]}")
    return pdf


def _filespec(pdf: Any) -> Any:
    """The file specification named ``receipt.xml`` in the EmbeddedFiles name tree."""
    import pikepdf

    names = pdf.Root.get("/Names")
    if names is None or "/EmbeddedFiles" not in names:
        return None
    tree = pikepdf.NameTree(names.EmbeddedFiles)
    return tree.get(ATTACHMENT_NAME)


def _decoded(stream: Any, what: str) -> bytes:
    """A stream's data, inflated to at most :data:`MAX_STREAM_BYTES`: a Flate stream is
    inflated here with that cap (qpdf would inflate a compression bomb whole, whatever the size
    the PDF declares); an uncompressed stream is taken as it is; any other filter is refused,
    as no receipt PDF uses one."""
    import pikepdf

    raw = bytes(stream.read_raw_bytes())
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    if filters is None:
        content = raw
    elif filters == pikepdf.Name.FlateDecode and stream.get("/DecodeParms") is None:
        inflater = zlib.decompressobj()
        try:
            content = inflater.decompress(raw, MAX_STREAM_BYTES + 1)
        except zlib.error as exc:
            raise InvalidPDF(f"{what} cannot be inflated: {exc}") from None
        if len(content) <= MAX_STREAM_BYTES and not inflater.eof:
            raise InvalidPDF(f"{what} is damaged: its compressed data ends early")
    else:
        raise InvalidPDF(f"{what} is encoded with {filters}; a receipt PDF uses /FlateDecode")
    if len(content) > MAX_STREAM_BYTES:
        raise InvalidPDF(f"{what} inflates beyond {MAX_STREAM_BYTES:,} bytes")
    return content


def _check_params(stream: Any, content: bytes) -> None:
    params = stream.get("/Params")
    if params is None:
        return
    size = params.get("/Size")
    if size is not None and int(size) != len(content):
        raise InvalidPDF(
            f"the attached {ATTACHMENT_NAME} is {len(content)} bytes, not the {int(size)} "
            f"the PDF declares"
        )
    checksum = params.get("/CheckSum")
    if checksum is not None and bytes(checksum) != hashlib.md5(content).digest():  # noqa: S324 (PDF's checksum is MD5)
        raise InvalidPDF(f"the attached {ATTACHMENT_NAME} does not match its MD5 checksum")
