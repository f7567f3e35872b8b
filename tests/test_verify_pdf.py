"""A receipt PDF verifies only when what is printed is what is signed (issue 6)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner

from cli import main
from receipts.render.receipt_pdf import render_pdf, sign_pdf
from receipts.verify.pdf import Method, verify_pdf
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(good_xml())


def codes(data: bytes, method: Method = "auto") -> list[str]:
    result = verify_pdf(data, build_pki().validator, "x.pdf", method=method)
    return [f.code for f in result.findings]


def test_a_rendered_pdf_verifies(pdf: bytes) -> None:
    result = verify_pdf(pdf, build_pki().validator, "r.pdf")
    assert result.valid, result.findings
    assert result.receipt is not None and result.receipt.number == 1


def _edit(pdf: bytes, change: object) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        change(doc)  # type: ignore[operator]
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def test_attachment_replaced_by_another_valid_receipt(pdf: bytes) -> None:
    other = good_xml(number=2)

    def swap(doc: pikepdf.Pdf) -> None:
        (name,) = list(doc.attachments)
        doc.attachments[name] = pikepdf.AttachedFileSpec(doc, other, mime_type="text/xml")
        # /AF names the new file specification too (pikepdf 9 leaves the old one there, which
        # is then a finding of its own: invalid-pdf).
        doc.Root.AF = pikepdf.Array([doc.attachments[name].obj])

    assert codes(_edit(pdf, swap), "render") == ["pdf-content-mismatch"]
    # By content: the page shows receipt 1, the XML is receipt 2.
    assert codes(_edit(pdf, swap)) == ["pdf-qr-mismatch", "pdf-text-mismatch"]


def test_visible_page_edited(pdf: bytes) -> None:
    def deface(doc: pikepdf.Pdf) -> None:
        page = doc.pages[0]
        content = page.Contents.read_bytes()
        page.Contents.write(content + b"\nq 1 0 0 rg 10 10 50 50 re f Q\n")

    assert codes(_edit(pdf, deface), "render") == ["pdf-content-mismatch"]
    assert codes(_edit(pdf, deface)) == ["pdf-overlay"]


def test_attachment_removed(pdf: bytes) -> None:
    def remove(doc: pikepdf.Pdf) -> None:
        for name in list(doc.attachments):
            del doc.attachments[name]

    assert codes(_edit(pdf, remove)) == ["invalid-pdf"]


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"%PDF-1.7\n%truncated", "invalid-pdf"), (b"not a pdf at all", "invalid-pdf")],
)
def test_broken_files(data: bytes, code: str) -> None:
    assert codes(data) == [code]


def test_truncated_pdf(pdf: bytes) -> None:
    assert codes(pdf[: len(pdf) // 2]) == ["invalid-pdf"]


def test_pades_signed_pdf_verifies_and_an_appended_change_does_not(pdf: bytes) -> None:
    pki = build_pki()
    signed = sign_pdf(pdf, pki.city.key, pki.city.cert, pki.city.intermediates)
    assert codes(signed) == []
    other = sign_pdf(pdf, pki.national.key, pki.national.cert, pki.national.intermediates)
    assert codes(other) == ["wrong-signer-org"]
    assert codes(signed + b"\n% appended\n") == ["pdf-content-mismatch"]


def test_cli_folder_with_bad_files_still_verifies_the_good_ones(pdf: bytes, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.pdf").write_bytes(pdf)
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "fake.pdf").write_bytes(b"PK\x03\x04 a zip, not a pdf")
    (folder / "truncated.pdf").write_bytes(pdf[:1000])
    (folder / "gone.pdf").symlink_to(tmp_path / "missing.pdf")
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(build_pki().bundle.to_pem())
    result = CliRunner().invoke(main, ["--json", "verify", str(folder), "--trust", str(bundle)])
    assert result.exit_code == 1
    found = {
        Path(e["source"]).name: [f["code"] for f in e["findings"]]
        for e in json.loads(result.stdout)
    }
    assert found == {
        "good.pdf": [],
        "empty.pdf": ["empty-file"],
        "fake.pdf": ["invalid-pdf"],
        "truncated.pdf": ["invalid-pdf"],
        "gone.pdf": ["unreadable"],
    }
    human = CliRunner().invoke(main, ["verify", str(folder), "--trust", str(bundle)])
    assert "Traceback" not in human.output
    assert human.stdout.splitlines()[-1] == "1 valid, 4 invalid"
