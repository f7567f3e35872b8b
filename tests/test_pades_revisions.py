"""A PAdES signature vouches only for a signed update that adds the signature and nothing else
(issue 14, defects 5 and 11): the issuer's own key cannot make a changed page verify."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic as pdf_objects

from receipts.render.receipt_pdf import render_pdf, sign_pdf
from receipts.verify.pdf import verify_pdf
from tests.support.hostile_pdf import (
    HOSTILE,
    TRUST_FILE,
    annotate,
    overlay,
    rewritten_after,
    sign,
    update,
    writer,
)
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml

generic: Any = pdf_objects  # untyped
ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
#: The trust bundle the committed hostile PDFs were made with (tests/data/make_bad_corpus.py).
CORPUS_TRUST = BAD / TRUST_FILE


@functools.cache
def _rendered() -> bytes:
    return render_pdf(good_xml())


def codes(data: bytes) -> list[str]:
    return [f.code for f in verify_pdf(data, build_pki().validator, "x.pdf").findings]


def test_a_genuine_signed_pdf_still_verifies() -> None:
    pki = build_pki()
    signed = sign_pdf(_rendered(), pki.city.key, pki.city.cert, pki.city.intermediates)
    assert codes(signed) == []
    assert codes(sign(writer(_rendered()), pki.city)) == []


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_pdf_signed_by_the_issuer_is_refused(name: str) -> None:
    build, expected = HOSTILE[name]
    data = build(_rendered(), build_pki().city)
    assert data.startswith(_rendered())  # the rendered PDF is intact underneath
    assert codes(data) == expected


def _new_metadata(w: Any) -> None:
    """Point the catalog at new XMP (a description added; the layout version kept)."""
    old = w.root["/Metadata"]
    data = old.data.replace(
        b"</rdf:RDF>",
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:description>99999.00</dc:description></rdf:Description></rdf:RDF>",
    )
    assert data != old.data
    name = generic.NameObject
    stream = generic.StreamObject(
        {name("/Type"): name("/Metadata"), name("/Subtype"): name("/XML")}, stream_data=data
    )
    w.root[name("/Metadata")] = w.add_object(stream)
    w.update_root()


def _new_font(w: Any) -> None:
    """Add a font to the page's (shared) font resources."""
    name = generic.NameObject
    page = w.root["/Pages"]["/Kids"][0].get_object()
    fonts = page["/Resources"]["/Font"]
    fonts[name("/F9")] = generic.DictionaryObject(
        {name("/Type"): name("/Font"), name("/Subtype"): name("/Type1")}
    )
    w.update_container(fonts)


def _new_info(w: Any) -> None:
    """Change the document information's title."""
    info = w.trailer["/Info"]
    info[generic.NameObject("/Title")] = generic.TextStringObject(f"收据 {99999}")
    w.update_container(info)


@pytest.mark.parametrize(
    "change", [overlay, annotate, _new_metadata, _new_font, _new_info], ids=lambda c: c.__name__
)
def test_nothing_but_the_signature_may_change_in_the_signed_update(
    change: Callable[[Any], None],
) -> None:
    w = writer(_rendered())
    change(w)
    data = sign(w, build_pki().city)
    result = verify_pdf(data, build_pki().validator, "x.pdf")
    assert [f.code for f in result.findings] == ["pdf-content-mismatch"]
    assert "signed update changes more than a signature adds" in result.findings[0].message


@pytest.mark.parametrize("change", [overlay, annotate, _new_metadata], ids=lambda c: c.__name__)
def test_any_update_after_the_signature_is_reported(change: Callable[[Any], None]) -> None:
    pki = build_pki()
    signed = sign_pdf(_rendered(), pki.city.key, pki.city.cert, pki.city.intermediates)
    assert codes(update(signed, change)) == ["pdf-updated-after-signature"]
    twice = update(update(signed, annotate), overlay)
    message = verify_pdf(twice, pki.validator, "x.pdf").findings[0].message
    assert message.startswith("the PDF was updated 2 time(s) after it was signed")


def _cli_verify(paths: list[Path], trust: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # A subprocess, not CliRunner: pyHanko's tracebacks went through logging's last-resort
    # handler to the real stderr, which pytest's log capture would otherwise hide.
    return subprocess.run(
        [sys.executable, "cli.py", *options, "verify", *map(str, paths), "--trust", str(trust)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_verify_of_a_pdf_updated_after_its_signature_is_one_line(tmp_path: Path) -> None:
    pki = build_pki()
    signed = sign_pdf(_rendered(), pki.city.key, pki.city.cert, pki.city.intermediates)
    path = tmp_path / "updated.pdf"
    path.write_bytes(update(signed, annotate))
    trust = tmp_path / "trust.pem"
    trust.write_bytes(pki.bundle.to_pem())
    done = _cli_verify([path], trust)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()[:1]
    assert line.startswith("INVALID") and "pdf-updated-after-signature" in line


def test_every_committed_corpus_file_is_refused_with_its_finding() -> None:
    names = sorted(HOSTILE)
    done = _cli_verify([BAD / name for name in names], CORPUS_TRUST, "--json")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    found = {Path(e["source"]).name: e for e in json.loads(done.stdout)}
    assert {name: [f["code"] for f in e["findings"]] for name, e in found.items()} == {
        name: HOSTILE[name][1] for name in names
    }
    # the genuine receipt is underneath each
    assert {e["receipt"][-11:] for e in found.values()} == {"-0000000001"}


def test_the_corpus_holds_every_hostile_pdf() -> None:
    assert sorted(p.name for p in BAD.glob("pades-*.pdf")) == sorted(HOSTILE)


def test_a_signing_time_that_is_not_a_date_is_a_finding() -> None:
    pki = build_pki()
    signed = sign_pdf(_rendered(), pki.city.key, pki.city.cert, pki.city.intermediates)
    (written,) = re.findall(rb"/M \(D\\072(\d{14})Z\)", signed)
    broken = signed.replace(written, b"2026120x" + written[8:])
    result = verify_pdf(broken, pki.validator, "x.pdf")
    assert [f.code for f in result.findings] == ["pades-invalid"]
    assert result.findings[0].message.startswith("the PDF signing time is not a date")


def test_a_signature_over_a_rewrite_appended_to_the_rendering_is_refused() -> None:
    # The signed update's revision chain never reaches the rendering's cross-reference section:
    # the difference analysis alone (rewrite → signed update) would find nothing wrong.
    data = sign(writer(rewritten_after(_rendered())), build_pki().city)
    assert data.startswith(_rendered())
    result = verify_pdf(data, build_pki().validator, "x.pdf")
    assert [(f.code, f.message) for f in result.findings] == [
        ("pdf-content-mismatch", "the signature is not over the rendered PDF")
    ]
