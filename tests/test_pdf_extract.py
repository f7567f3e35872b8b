"""Reading a receipt PDF back (the attached XML, exactly; the layout version) and refusing
what is not a whole receipt PDF; and rendering batches across processes."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from reportlab.pdfgen.canvas import Canvas

from receipts.errors import InvalidInput
from receipts.render.batch import RenderResult, render_many
from receipts.render.receipt_pdf import (
    LATEST_LAYOUT,
    InvalidPDF,
    extract_xml,
    read_layout_version,
    render_pdf,
)
from tests.support.pdf import normal_pdf, normal_xml, reversal_pdf, reversal_xml


def test_extract_gives_back_the_exact_xml() -> None:
    assert extract_xml(normal_pdf()) == normal_xml()
    assert extract_xml(reversal_pdf()) == reversal_xml()


def _plain_pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, "no receipt here")
    canvas.save()
    return buffer.getvalue()


def _with_attachment(content: bytes) -> bytes:
    """The normal PDF with the attachment's bytes replaced but its declared size and MD5 kept."""
    with pikepdf.open(io.BytesIO(normal_pdf())) as pdf:
        stream = pdf.Root.AF[0].EF.F
        stream.write(content)  # pikepdf re-encodes; /Params is left as it was
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<Receipt/>", r"^not a PDF \(no %PDF- header\)$"),
        (normal_pdf()[: len(normal_pdf()) // 2], r"^truncated PDF: no %%EOF marker"),
        (normal_pdf()[:-1500], r"^truncated PDF"),
        (normal_pdf().replace(b"startxref\n", b"startxref\n9"), r"^damaged PDF: "),
        (_plain_pdf(), r"^the PDF has no receipt\.xml attachment"),
        (_with_attachment(normal_xml().replace(b"3532.95", b"9532.95")), r"MD5 checksum"),
        (_with_attachment(normal_xml() + b"\n"), r"is \d+ bytes, not the \d+ the PDF declares"),
    ],
    ids=["xml", "half", "tail-cut", "bad-xref", "no-attachment", "changed", "longer"],
)
def test_extract_refuses_what_is_not_an_intact_receipt_pdf(data: bytes, message: str) -> None:
    with pytest.raises(InvalidPDF, match=message):
        extract_xml(data)


def test_layout_version_of_a_pdf_without_our_metadata_is_refused() -> None:
    with pytest.raises(InvalidPDF, match="no XMP metadata"):
        read_layout_version(_plain_pdf())
    assert read_layout_version(reversal_pdf()) == LATEST_LAYOUT == 3
    assert read_layout_version(render_pdf(reversal_xml(), layout_version=1)) == 1


def test_render_many_across_processes(tmp_path: Path) -> None:
    sources = tmp_path / "xml"
    sources.mkdir()
    paths = []
    for index in range(20):  # more than one chunk, so the worker pool is used
        path = sources / f"r{index:02d}.xml"
        path.write_bytes(normal_xml() if index % 2 else reversal_xml())
        paths.append(path)
    broken = sources / "broken.xml"
    broken.write_bytes(b"<Receipt")
    paths.insert(3, broken)
    seen: list[RenderResult] = []
    results = render_many(paths, tmp_path / "pdf", workers=2, progress=seen.append)
    assert [r.source for r in results] == paths
    assert sorted(r.source for r in seen) == sorted(paths)
    (failed,) = [r for r in results if not r.ok]
    assert failed.source == broken and failed.output is None
    assert failed.error is not None and failed.error.startswith(f"{broken}: ")
    for result in results:
        if result.ok:
            assert result.output == tmp_path / "pdf" / f"{result.source.stem}.pdf"
            expected = normal_pdf() if result.source.read_bytes() == normal_xml() else None
            data = result.output.read_bytes()
            assert data == (expected or reversal_pdf())
    assert not list((tmp_path / "pdf").glob(".*.tmp"))


def test_render_many_in_process_and_name_clashes(tmp_path: Path) -> None:
    first = tmp_path / "a" / "same.xml"
    second = tmp_path / "b" / "same.xml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(normal_xml())
    with pytest.raises(InvalidInput, match="would both be written to"):
        render_many([first, second], tmp_path / "out")
    (result,) = render_many([first], tmp_path / "out", workers=1)
    assert result.ok and result.output is not None
    assert result.output.read_bytes() == render_pdf(normal_xml())
