"""Rendering a receipt PDF: what the page says, the fonts, the attachment, PDF/A structure and
byte-for-byte determinism, checked with outside tools (pdftotext, pdffonts, pdfdetach, qpdf)."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pikepdf
import pypdf
import pytest

from receipts.domain.xmlcodec import receipt_to_element, serialize
from receipts.errors import InvalidReceipt
from receipts.render.layout_v1 import LAYOUT
from receipts.render.pdfa import SRGB_ICC, UDR_XMP_NS, pdf_date
from receipts.render.receipt_pdf import LATEST_LAYOUT, RenderError, read_layout_version, render_pdf
from tests.support.pdf import (
    GOLDEN,
    PAYER_NAME,
    fixed_seal_xml,
    normal_pdf,
    normal_receipt,
    normal_xml,
    pdftotext,
    reversal_pdf,
    reversal_receipt,
    reversal_xml,
    run_tool,
)


@functools.cache
def _v1(pdf: str) -> bytes:
    """The normal or reversal receipt drawn with layout 1 (the labels checked below are its)."""
    return render_pdf(normal_xml() if pdf == "normal" else reversal_xml(), layout_version=1)


# What the normal receipt's page must show in layout 1, written out by hand (layout 2's labels:
# tests/test_pdf_layout_v2.py).
NORMAL_TEXT = [
    "工会经费收入专用收据(电子)",
    "64710126",
    "0000000001",
    "k3x9q2",
    "2026-11-28 10:30:00+08:00",
    PAYER_NAME,
    "91640100MA7600001J",
    "企业",
    "工会经费(拨缴)",
    "会员会费",
    "建会筹备金",
    "2026-10",
    "2026-09",
    "100000.00",
    "0.02",
    "2000.00",
    "1409.50",
    "123.45",
    "叁仟伍佰叁拾贰元玖角伍分",
    "¥3532.95",
    "2026年10月工会经费",
    "银川市总工会",
    "640100",
    "81640100MA7600001K",
    "张晓梅",
    "李建国",
]
REVERSAL_TEXT = [
    "红字 · 冲红",
    "冲红原收据",
    "收据代码 64710126",
    "收据号码 0000000001",
    "0000000002",
    "r7t5w1",
    "交款人名称开具错误,按规定冲红",
    "-2000.00",
    "-1409.50",
    "-123.45",
    "负叁仟伍佰叁拾贰元玖角伍分",
    "¥-3532.95",
]


def test_layout_1_page_shows_every_field_of_a_normal_receipt() -> None:
    text = pdftotext(_v1("normal"))
    for expected in NORMAL_TEXT:
        assert expected in text, expected
    assert "冲红" not in text
    # And everything the layout says it prints, field by field.
    for field, value in LAYOUT.printed(normal_receipt()):
        assert value in text, field


def test_layout_1_page_marks_a_reversal_and_its_original() -> None:
    text = pdftotext(_v1("reversal"))
    for expected in REVERSAL_TEXT:
        assert expected in text, expected
    for field, value in LAYOUT.printed(reversal_receipt()):
        assert value in text, field


@pytest.mark.parametrize(
    ("pdf", "name"),
    [
        (lambda: _v1("normal"), "receipt_page.txt"),
        (lambda: _v1("reversal"), "receipt_page_reversal.txt"),
        (lambda: render_pdf(normal_xml(), layout_version=2), "receipt_page_v2.txt"),
        (lambda: render_pdf(reversal_xml(), layout_version=2), "receipt_page_reversal_v2.txt"),
    ],
    ids=["v1", "v1-reversal", "v2", "v2-reversal"],
)
def test_page_text_matches_the_golden_file(pdf: object, name: str) -> None:
    assert callable(pdf)
    text = pdftotext(pdf(), "-layout")
    golden = GOLDEN / name
    if os.environ.get("RECEIPTS_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_every_font_is_embedded() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.pdf"
        path.write_bytes(normal_pdf())
        lines = run_tool("pdffonts", str(path)).stdout.splitlines()[2:]
    assert lines, "pdffonts lists no font"
    for line in lines:
        name, emb = line.split()[0], line.split()[-5]
        assert emb == "yes", line
        assert name.endswith("+WenQuanYiZenHei"), line


def test_qpdf_finds_nothing_wrong() -> None:
    for pdf in (normal_pdf(), reversal_pdf()):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "r.pdf"
            path.write_bytes(pdf)
            result = run_tool("qpdf", "--check", str(path), check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors found" in result.stdout
        assert "WARNING" not in result.stdout + result.stderr


def test_attachment_is_the_exact_xml_for_pypdf_and_pdfdetach() -> None:
    reader = pypdf.PdfReader(io.BytesIO(normal_pdf()))
    assert reader.attachments["receipt.xml"] == [normal_xml()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.pdf"
        path.write_bytes(normal_pdf())
        out = Path(tmp) / "out"
        out.mkdir()
        run_tool("pdfdetach", "-saveall", "-o", str(out), str(path))
        assert sorted(p.name for p in out.iterdir()) == ["receipt.xml"]
        assert (out / "receipt.xml").read_bytes() == normal_xml()


def test_pdfa3b_structure() -> None:
    data = normal_pdf()
    xml = normal_xml()
    assert data.startswith(b"%PDF-1.7\n")
    assert all(byte > 127 for byte in data.split(b"\n")[1][1:5])  # binary comment line
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.is_encrypted
        assert "/Encrypt" not in pdf.trailer
        assert len(pdf.pages) == 1
        # Associated file: in the catalogue's /AF and in the EmbeddedFiles name tree.
        (spec,) = list(pdf.Root.AF)
        assert spec.Type == "/Filespec"
        assert spec.AFRelationship == "/Source"
        assert str(spec.F) == str(spec.UF) == "receipt.xml"
        stream = spec.EF.F
        assert stream.Type == "/EmbeddedFile"
        assert stream.Subtype == "/text/xml"
        assert int(stream.Params.Size) == len(xml)
        assert bytes(stream.Params.CheckSum) == hashlib.md5(xml).digest()
        assert stream.read_bytes() == xml
        names = pikepdf.NameTree(pdf.Root.Names.EmbeddedFiles)
        assert names["receipt.xml"].objgen == spec.objgen
        # XMP: PDF/A-3B and our layout version.
        assert "/Filter" not in pdf.Root.Metadata
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3"
        assert meta["pdfaid:conformance"] == "B"
        assert meta[f"{{{UDR_XMP_NS}}}LayoutVersion"] == str(LATEST_LAYOUT)
        # Output intent: sRGB.
        (intent,) = list(pdf.Root.OutputIntents)
        assert intent.S == "/GTS_PDFA1"
        profile = intent.DestOutputProfile
        assert int(profile.N) == 3
        assert profile.read_bytes() == SRGB_ICC
        assert SRGB_ICC[36:40] == b"acsp" and SRGB_ICC[16:20] == b"RGB "
        # Every font has its program embedded. (items(): Dictionary.values() is pikepdf 10.3's.)
        for _, font in pdf.pages[0].Resources.Font.items():
            assert "/FontFile2" in font.FontDescriptor
        # The document ID is the XML's: first 16 bytes of its SHA-256.
        first, second = (bytes(part) for part in pdf.trailer.ID)
        assert first == second == hashlib.sha256(xml).digest()[:16]


def test_document_information_and_xmp_agree_and_come_from_the_receipt() -> None:
    # Layout 1's title; layout 2's (full-width brackets): tests/test_pdf_layout_v2.py.
    receipt = normal_receipt()
    with pikepdf.open(io.BytesIO(_v1("normal"))) as pdf:
        info = pdf.docinfo
        meta = pdf.open_metadata()
        assert str(info.CreationDate) == str(info.ModDate) == "D:20261128103000+08'00'"
        assert pdf_date(receipt.issued_at) == str(info.CreationDate)
        assert meta["xmp:CreateDate"] == meta["xmp:ModifyDate"] == "2026-11-28T10:30:00+08:00"
        assert (
            str(info.Title) == meta["dc:title"] == "工会经费收入专用收据(电子) 64710126-0000000001"
        )
        assert [str(info.Author)] == meta["dc:creator"] == ["银川市总工会"]
        assert str(info.Subject) == meta["dc:description"]
        assert str(info.Keywords) == meta["pdf:Keywords"]
        assert str(info.Producer) == meta["pdf:Producer"]
        assert str(info.Creator) == meta["xmp:CreatorTool"]


def test_same_xml_gives_the_same_bytes_in_other_processes(tmp_path: Path) -> None:
    source = tmp_path / "receipt.xml"
    source.write_bytes(normal_xml())
    script = (
        "import sys; from receipts.render.receipt_pdf import render_pdf; "
        "sys.stdout.buffer.write(render_pdf(open(sys.argv[1], 'rb').read()))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(source)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2")
    ]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert outputs[0] == outputs[1] == normal_pdf()


def test_page_content_of_layout_1_never_changes() -> None:
    # The drawing operators of layout 1 for a fixed receipt, compared with the digest taken
    # when the layout was released. A difference means layout 1 would no longer reproduce
    # the PDFs it made: put the change in a new layout version instead (or, after a reportlab
    # upgrade, check what changed).
    pdf = render_pdf(fixed_seal_xml(normal_receipt()), layout_version=1)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        content = doc.pages[0].Contents.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    golden = GOLDEN / "receipt_page_v1.sha256"
    if os.environ.get("RECEIPTS_UPDATE_GOLDEN") == "1":
        golden.write_text(digest + "\n", encoding="ascii")
    assert digest == golden.read_text(encoding="ascii").strip()


def test_layout_version_is_recorded() -> None:
    assert read_layout_version(normal_pdf()) == LATEST_LAYOUT == 3
    assert render_pdf(normal_xml(), layout_version=3) == normal_pdf()
    assert read_layout_version(_v1("normal")) == 1


def test_unknown_layout_version_is_refused() -> None:
    with pytest.raises(RenderError, match=r"unknown layout version 99 \(known: 1, 2, 3\)"):
        render_pdf(normal_xml(), layout_version=99)


def test_an_unsealed_receipt_is_not_rendered() -> None:
    unsealed = serialize(receipt_to_element(normal_receipt()))
    with pytest.raises(RenderError, match="no QR seal"):
        render_pdf(unsealed)


def test_invalid_xml_is_refused_as_an_invalid_receipt() -> None:
    with pytest.raises(InvalidReceipt):
        render_pdf(normal_xml().replace(b"<Handler>", b"<Handlr>").replace(b"</Handler>", b""))


def test_importing_receipts_pdf_loads_no_rendering_library() -> None:
    script = (
        "import sys, receipts.render.receipt_pdf; "
        "heavy = ('reportlab', 'pikepdf', 'pyhanko', 'zxingcpp', "
        "'fontTools', 'pypdfium2'); print(sorted({m.split('.')[0] for m in sys.modules} & "
        "set(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
