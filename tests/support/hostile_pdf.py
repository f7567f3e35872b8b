"""Receipt PDFs signed (PAdES) by the issuer's own key around a change to what they show.

Each builder takes a genuine rendered receipt PDF and a test PKI signer and plays the insider
who holds the key: it draws over the page (a white rectangle and a new amount), adds an
annotation or a visible signature, in the update it signs or in one before it, or updates the
PDF after signing. :data:`HOSTILE` names each for its fault with the finding codes
``receipts verify`` must report; ``tests/data/make_bad_corpus.py`` writes them to
``tests/data/bad/``. The incremental writer keeps the XMP and document information as
rendered, like ``render --sign-pdf``, so that only the attack itself differs from a genuine
signature.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic as pdf_objects
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from receipts.render.receipt_pdf import render_pdf
from tests.support.pki import Signer

__all__ = [
    "HOSTILE",
    "NEW_AMOUNT",
    "TRUST_FILE",
    "annotate",
    "overlay",
    "rewritten_after",
    "sign",
    "update",
    "write_corpus",
    "writer",
]

generic: Any = pdf_objects  # untyped

#: The trust bundle the committed hostile PDFs verify against, next to them.
TRUST_FILE = "pades-trust.pem"
#: What the forged page shows instead of the receipt's total.
NEW_AMOUNT = "99999.00"
_N = generic.NameObject
# The rendered total (¥3409.50) lies within this box, in PDF units on the A5-landscape page.
_BOX = (470, 132, 575, 162)
# White-out of the total's area, then the new amount drawn over it, in a new content stream.
_OVERLAY = (
    b"q 1 1 1 rg 470 132 105 30 re f Q\n"
    b"BT /Helv 9 Tf 0 0 0 rg 523.45 143.5 Td (\\245" + NEW_AMOUNT.encode() + b") Tj ET\n"
)


def writer(pdf: bytes) -> Any:
    """An incremental writer over ``pdf`` that leaves its XMP and Info as they are."""

    class MetadataKeepingWriter(IncrementalPdfFileWriter):
        def _update_meta(self) -> None:
            return None

    return MetadataKeepingWriter(io.BytesIO(pdf))


def _page(w: Any) -> Any:
    return w.root["/Pages"]["/Kids"][0].get_object()


def overlay(w: Any) -> None:
    """Append a content stream to the page: white-out and a new amount (in Helvetica, added to
    the page's fonts)."""
    page = _page(w)
    fonts = page["/Resources"]["/Font"]
    fonts[_N("/Helv")] = generic.DictionaryObject(
        {
            _N("/Type"): _N("/Font"),
            _N("/Subtype"): _N("/Type1"),
            _N("/BaseFont"): _N("/Helvetica"),
            _N("/Encoding"): _N("/WinAnsiEncoding"),
        }
    )
    w.update_container(fonts)
    added = w.add_object(generic.StreamObject(stream_data=_OVERLAY))
    page[_N("/Contents")] = generic.ArrayObject([page.raw_get("/Contents"), added])
    w.update_container(page)


def annotate(w: Any) -> None:
    """Add a FreeText annotation showing the new amount over the total."""
    page = _page(w)
    note = generic.DictionaryObject(
        {
            _N("/Type"): _N("/Annot"),
            _N("/Subtype"): _N("/FreeText"),
            _N("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in _BOX]),
            _N("/Contents"): generic.TextStringObject(NEW_AMOUNT),
            _N("/DA"): generic.TextStringObject("/Helv 14 Tf 0 g"),
        }
    )
    added = w.add_object(note)
    if "/Annots" in page:
        page["/Annots"].append(added)
    else:
        page[_N("/Annots")] = generic.ArrayObject([added])
    w.update_container(page)


def _asn1(cert: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign(w: Any, who: Signer, visible: bool = False) -> bytes:
    """Sign what ``w`` holds (its pending changes included) in one update, as PAdES B-B."""
    pkcs8 = who.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = signers.SimpleSigner(
        signing_cert=_asn1(who.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [_asn1(c) for c in who.intermediates]
        ),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name="Signature", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    spec = fields.SigFieldSpec("Signature", on_page=0, box=_BOX) if visible else None
    output = signers.sign_pdf(w, metadata, signer=signer, bytes_reserved=8192, new_field_spec=spec)
    return bytes(output.getvalue())


def update(pdf: bytes, change: Callable[[Any], None]) -> bytes:
    """``pdf`` with ``change`` written as one more incremental update (unsigned)."""
    w = writer(pdf)
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def rewritten_after(pdf: bytes) -> bytes:
    """``pdf`` followed by a whole new PDF of its overlaid page (a full rewrite by pikepdf, its
    offsets moved past ``pdf``), not linked to ``pdf``'s cross-reference section: readers see
    only the rewrite, while the file still starts with the genuine rendering."""
    import pikepdf

    with pikepdf.open(io.BytesIO(update(pdf, overlay))) as doc:
        out = io.BytesIO()
        doc.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, static_id=True)
    shift = len(pdf)
    body = re.sub(
        rb"(?m)^(\d{10}) (\d{5}) n",
        lambda m: b"%010d %s n" % (int(m.group(1)) + shift, m.group(2)),
        out.getvalue(),
    )
    body = re.sub(
        rb"startxref\s+(\d+)", lambda m: b"startxref\n%d" % (int(m.group(1)) + shift), body
    )
    return pdf + body


def _signed_with(change: Callable[[Any], None]) -> Callable[[bytes, Signer], bytes]:
    def build(pdf: bytes, who: Signer) -> bytes:
        w = writer(pdf)
        change(w)
        return sign(w, who)

    return build


#: File name → (builder from a rendered PDF and the issuer's signer, the findings of verify).
HOSTILE: dict[str, tuple[Callable[[bytes, Signer], bytes], list[str]]] = {
    "pades-overlay-in-signed-revision.pdf": (_signed_with(overlay), ["pdf-content-mismatch"]),
    "pades-overlay-then-signed.pdf": (
        lambda pdf, who: sign(writer(update(pdf, overlay)), who),
        ["pdf-content-mismatch"],
    ),
    "pades-annotation-in-signed-revision.pdf": (
        _signed_with(annotate),
        ["pdf-content-mismatch"],
    ),
    "pades-visible-signature.pdf": (
        lambda pdf, who: sign(writer(pdf), who, visible=True),
        ["pdf-content-mismatch"],
    ),
    "pades-then-update.pdf": (
        lambda pdf, who: update(sign(writer(pdf), who), annotate),
        ["pdf-updated-after-signature"],
    ),
}


def write_corpus(folder: Path) -> int:
    """Write every hostile PDF into ``folder``, from a receipt rendered and signed on this
    session's test PKI, with that PKI's trust bundle as :data:`TRUST_FILE`; the count."""
    from tests.support.pki import build_pki
    from tests.support.receipt_corpus import good_xml

    pki = build_pki()
    pdf = render_pdf(good_xml())
    for name, (build, _codes) in HOSTILE.items():
        (folder / name).write_bytes(build(pdf, pki.city))
    (folder / TRUST_FILE).write_bytes(pki.bundle.to_pem())
    return len(HOSTILE)
