"""PDF/A-3b structure, written by reportlab in the same pass as the page.

Adds to a reportlab canvas, before it is saved: the signed XML as the associated file
``receipt.xml`` (``/AF``, ``/AFRelationship /Source``, MIME ``text/xml``, size and MD5), XMP
metadata (``pdfaid`` part 3 conformance B, the layout version, and the document information
mirrored as PDF/A requires), an sRGB output intent, a document ``/ID`` from the XML's SHA-256
and dates from the issue time, so nothing depends on the clock or the process.

Doing this in reportlab rather than re-opening the PDF with pikepdf saves a parse and a rewrite
(about half the cost of a page). It uses reportlab's document objects (``canvas._doc``), which
its own extensions use too; the tests check the result with pikepdf and qpdf.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import uuid
import zlib
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from receipts.domain.model import Receipt

__all__ = [
    "ATTACHMENT_NAME",
    "LAYOUT_VERSION_PROPERTY",
    "PRODUCER",
    "SRGB_ICC",
    "UDR_XMP_NS",
    "finish_document",
    "pdf_date",
]

#: File name of the attached signed XML.
ATTACHMENT_NAME = "receipt.xml"
#: XMP namespace of our own properties (described in the PDF/A extension schema below).
UDR_XMP_NS = "urn:union-dues-receipt:pdf:1#"
#: The XMP property holding the layout version.
LAYOUT_VERSION_PROPERTY = "LayoutVersion"
#: Producer and creator tool; no version numbers, so an upgrade alone changes no bytes.
PRODUCER = "union-dues-receipts (ReportLab)"

#: sRGB ICC profile (588 bytes) for the output intent: LittleCMS's built-in sRGB as Pillow's
#: ``ImageCms.createProfile("sRGB")`` gives it, with its header date (which LittleCMS sets to the
#: current time) fixed at 2000-01-01 and its version set to 4.2, the ICC version PDF 1.7 cites.
SRGB_ICC = base64.b64decode(
    "AAACTGxjbXMEIAAAbW50clJHQiBYWVogB9AAAQABAAAAAAAAYWNzcEFQUEwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "APbWAAEAAAAA0y1sY21zAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALZGVzYwAA"
    "AQgAAAA2Y3BydAAAAUAAAABMd3RwdAAAAYwAAAAUY2hhZAAAAaAAAAAsclhZWgAAAcwAAAAUYlhZWgAAAeAAAAAUZ1hZ"
    "WgAAAfQAAAAUclRSQwAAAggAAAAgZ1RSQwAAAggAAAAgYlRSQwAAAggAAAAgY2hybQAAAigAAAAkbWx1YwAAAAAAAAAB"
    "AAAADGVuVVMAAAAaAAAAHABzAFIARwBCACAAYgB1AGkAbAB0AC0AaQBuAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAADAA"
    "AAAcAE4AbwAgAGMAbwBwAHkAcgBpAGcAaAB0ACwAIAB1AHMAZQAgAGYAcgBlAGUAbAB5WFlaIAAAAAAAAPbWAAEAAAAA"
    "0y1zZjMyAAAAAAABDEIAAAXe///zJQAAB5MAAP2Q///7of///aIAAAPcAADAblhZWiAAAAAAAABvoAAAOPUAAAOQWFla"
    "IAAAAAAAACSfAAAPhAAAtsNYWVogAAAAAAAAYpcAALeHAAAY2XBhcmEAAAAAAAMAAAACZmYAAPKnAAANWQAAE9AAAApb"
    "Y2hybQAAAAAAAwAAAACj1wAAVHsAAEzNAACZmgAAJmYAAA9c"
)


@functools.lru_cache(maxsize=1)
def _compressed_icc() -> bytes:
    return zlib.compress(SRGB_ICC, 9)


def pdf_date(moment: datetime) -> str:
    """A PDF date string, ``D:20261128103000+08'00'``, keeping the moment's UTC offset."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{hours:02d}'{mins:02d}'"


def finish_document(
    canvas: Any, receipt: Receipt, xml: bytes, layout_version: int, title: str
) -> None:
    """Give the document on ``canvas`` its attachment, metadata, output intent, ID and dates."""
    from reportlab.pdfbase import pdfdoc

    doc = canvas._doc
    digest = hashlib.sha256(xml).digest()
    created = pdf_date(receipt.issued_at)
    info = _info(receipt, title)

    canvas.setTitle(info["title"])
    canvas.setAuthor(info["author"])
    canvas.setSubject(info["subject"])
    canvas.setKeywords(info["keywords"])
    canvas.setCreator(PRODUCER)
    canvas.setProducer(PRODUCER)
    canvas.setDateFormatter(lambda *_: created)
    # reportlab's ID is an MD5 over its own state; the first 16 bytes of the XML's SHA-256
    # identify the receipt instead (both halves equal: this is the document's first version).
    ident = pdfdoc.PDFText(digest[:16], enc="raw").format(doc)
    doc._ID = b"\n[" + ident + b" " + ident + b"]\n"

    catalog = doc.Catalog
    # reportlab writes only the catalogue keys its class lists; add the two PDF/A-3 needs.
    catalog.__NoDefault__ = [*catalog.__NoDefault__, "AF", "OutputIntents"]

    metadata = pdfdoc.PDFStream(
        pdfdoc.PDFDictionary({"Type": "/Metadata", "Subtype": "/XML"}),
        _xmp(receipt, info, digest, layout_version),
    )  # left unfiltered, as PDF/A readers expect XMP to be findable in the raw file
    catalog.Metadata = metadata
    # The order of the two calls fixes the order of the objects in the file.
    _add_output_intent(doc, catalog)
    _attach_xml(doc, catalog, xml, created)


def _add_output_intent(doc: Any, catalog: Any) -> None:
    """The sRGB output intent PDF/A requires."""
    from reportlab.pdfbase import pdfdoc

    # Compressed once per process: with /Filter already set, reportlab writes it as it is.
    profile = pdfdoc.PDFStream(
        pdfdoc.PDFDictionary({"N": 3, "Filter": "/FlateDecode"}), _compressed_icc()
    )
    catalog.OutputIntents = pdfdoc.PDFArray(
        [
            pdfdoc.PDFDictionary(
                {
                    "Type": "/OutputIntent",
                    "S": "/GTS_PDFA1",
                    "OutputConditionIdentifier": pdfdoc.PDFString("sRGB IEC61966-2.1"),
                    "Info": pdfdoc.PDFString("sRGB IEC61966-2.1"),
                    "RegistryName": pdfdoc.PDFString("http://www.color.org"),
                    "DestOutputProfile": doc.Reference(profile),
                }
            )
        ]
    )


def _attach_xml(doc: Any, catalog: Any, xml: bytes, created: str) -> None:
    """The signed XML as the document's associated file (``/AF``, relationship ``/Source``),
    also listed among its embedded files."""
    from reportlab.pdfbase import pdfdoc

    embedded = pdfdoc.PDFStream(
        pdfdoc.PDFDictionary(
            {
                "Type": "/EmbeddedFile",
                "Subtype": "/text#2Fxml",  # the name "text/xml", its slash escaped
                "Params": pdfdoc.PDFDictionary(
                    {
                        "Size": len(xml),
                        "CreationDate": pdfdoc.PDFString(created),
                        "ModDate": pdfdoc.PDFString(created),
                        "CheckSum": pdfdoc.PDFText(hashlib.md5(xml).digest(), enc="raw"),  # noqa: S324 (PDF's checksum is MD5)
                    }
                ),
            }
        ),
        xml,
        filters=[pdfdoc.PDFZCompress],
    )
    embedded_ref = doc.Reference(embedded)
    filespec = doc.Reference(
        pdfdoc.PDFDictionary(
            {
                "Type": "/Filespec",
                "F": pdfdoc.PDFString(ATTACHMENT_NAME),
                "UF": pdfdoc.PDFString(ATTACHMENT_NAME),
                "Desc": pdfdoc.PDFString("Signed receipt XML: the legal record this page shows"),
                "AFRelationship": "/Source",
                "EF": pdfdoc.PDFDictionary({"F": embedded_ref, "UF": embedded_ref}),
            }
        )
    )
    catalog.AF = pdfdoc.PDFArray([filespec])
    catalog.Names = pdfdoc.PDFDictionary(
        {
            "EmbeddedFiles": pdfdoc.PDFDictionary(
                {"Names": pdfdoc.PDFArray([pdfdoc.PDFString(ATTACHMENT_NAME), filespec])}
            )
        }
    )


def _info(receipt: Receipt, title: str) -> dict[str, str]:
    return {
        "title": f"{title} {receipt.code}-{receipt.formatted_number}",
        "author": receipt.issuer.name,
        "subject": f"收据代码 {receipt.code} 收据号码 {receipt.formatted_number}",
        "keywords": f"工会经费收入专用收据; {receipt.code}; {receipt.formatted_number}",
    }


def _xmp(receipt: Receipt, info: dict[str, str], digest: bytes, layout_version: int) -> bytes:
    moment = receipt.issued_at.isoformat(timespec="seconds")
    document_id = uuid.UUID(bytes=digest[:16])
    text = _XMP_TEMPLATE.format(
        title=escape(info["title"]),
        author=escape(info["author"]),
        subject=escape(info["subject"]),
        keywords=escape(info["keywords"]),
        producer=escape(PRODUCER),
        moment=moment,
        document_id=document_id,
        ns=UDR_XMP_NS,
        layout=int(layout_version),
        code=receipt.code,
        number=receipt.formatted_number,
        digest=digest.hex(),
    )
    return text.encode("utf-8")


# Each Info entry has its XMP twin, as PDF/A requires: Title/dc:title, Author/dc:creator,
# Subject/dc:description, Keywords/pdf:Keywords, Creator/xmp:CreatorTool, Producer/pdf:Producer,
# CreationDate/xmp:CreateDate, ModDate/xmp:ModifyDate, Trapped/pdf:Trapped. Properties outside
# the standard schemas (udr:*) must be described in a PDF/A extension schema.
_XMP_TEMPLATE = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:udr="{ns}">
   <pdfaid:part>3</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>
   <dc:description>
    <rdf:Alt><rdf:li xml:lang="x-default">{subject}</rdf:li></rdf:Alt>
   </dc:description>
   <pdf:Keywords>{keywords}</pdf:Keywords>
   <pdf:Producer>{producer}</pdf:Producer>
   <pdf:Trapped>False</pdf:Trapped>
   <xmp:CreatorTool>{producer}</xmp:CreatorTool>
   <xmp:CreateDate>{moment}</xmp:CreateDate>
   <xmp:ModifyDate>{moment}</xmp:ModifyDate>
   <xmp:MetadataDate>{moment}</xmp:MetadataDate>
   <xmpMM:DocumentID>uuid:{document_id}</xmpMM:DocumentID>
   <udr:LayoutVersion>{layout}</udr:LayoutVersion>
   <udr:ReceiptCode>{code}</udr:ReceiptCode>
   <udr:ReceiptNumber>{number}</udr:ReceiptNumber>
   <udr:XMLDigest>{digest}</udr:XMLDigest>
  </rdf:Description>
  <rdf:Description rdf:about=""
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
   <pdfaExtension:schemas>
    <rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <pdfaSchema:schema>Union-dues e-receipt rendering</pdfaSchema:schema>
      <pdfaSchema:namespaceURI>{ns}</pdfaSchema:namespaceURI>
      <pdfaSchema:prefix>udr</pdfaSchema:prefix>
      <pdfaSchema:property>
       <rdf:Seq>
        <rdf:li rdf:parseType="Resource">
         <pdfaProperty:name>LayoutVersion</pdfaProperty:name>
         <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
         <pdfaProperty:category>internal</pdfaProperty:category>
         <pdfaProperty:description>Page layout version</pdfaProperty:description>
        </rdf:li>
        <rdf:li rdf:parseType="Resource">
         <pdfaProperty:name>ReceiptCode</pdfaProperty:name>
         <pdfaProperty:valueType>Text</pdfaProperty:valueType>
         <pdfaProperty:category>external</pdfaProperty:category>
         <pdfaProperty:description>Receipt code (8 digits)</pdfaProperty:description>
        </rdf:li>
        <rdf:li rdf:parseType="Resource">
         <pdfaProperty:name>ReceiptNumber</pdfaProperty:name>
         <pdfaProperty:valueType>Text</pdfaProperty:valueType>
         <pdfaProperty:category>external</pdfaProperty:category>
         <pdfaProperty:description>Receipt number (10 digits)</pdfaProperty:description>
        </rdf:li>
        <rdf:li rdf:parseType="Resource">
         <pdfaProperty:name>XMLDigest</pdfaProperty:name>
         <pdfaProperty:valueType>Text</pdfaProperty:valueType>
         <pdfaProperty:category>internal</pdfaProperty:category>
         <pdfaProperty:description>SHA-256 of the attached XML</pdfaProperty:description>
        </rdf:li>
       </rdf:Seq>
      </pdfaSchema:property>
     </rdf:li>
    </rdf:Bag>
   </pdfaExtension:schemas>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>
"""
