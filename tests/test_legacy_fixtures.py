"""The receipts this release hands out keep verifying, byte for byte, whatever changes later
(issue 18, item 2): the fixtures of tests/data/legacy/ (written once by
tools/make_legacy_fixtures.py) verify in every run, by content and by the re-render fast path;
a copy re-saved with other compression still verifies by content; and every whole file is
pinned by its SHA-256."""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from cryptography import x509

from receipts.domain.signed_documents import chain_validator
from receipts.render.receipt_pdf import extract_xml, read_layout_version, render_pdf
from receipts.verify.pdf import verify_pdf
from receipts.verify.receipt import verify_receipt_xml
from signing.trust import ChainValidator, TrustBundle
from tests.support.pins import renderers_as_pinned
from tests.support.skips import skip_or_fail

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"
FULLER_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
#: The digest of SHA256SUMS itself: editing a fixture and its line together is caught too.
SUMS_DIGEST = "1e6e1b5a1d6936f3c2449ae9552d569993901227239312ee23488ad3a3260e3e"
PDFS = sorted(p.name for p in LEGACY.glob("*.pdf"))
XMLS = sorted(p.name for p in LEGACY.glob("*.xml"))


def _validator() -> ChainValidator:
    return chain_validator(TrustBundle.load(LEGACY / "trust.pem"))


def _sums() -> dict[str, str]:
    lines = (LEGACY / "SHA256SUMS").read_text(encoding="ascii").splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines)}


def test_every_fixture_file_is_exactly_as_written() -> None:
    sums = (LEGACY / "SHA256SUMS").read_bytes()
    assert hashlib.sha256(sums).hexdigest() == SUMS_DIGEST
    listed = _sums()
    assert sorted(listed) == sorted(p.name for p in LEGACY.iterdir() if p.name != "SHA256SUMS")
    for name, digest in listed.items():
        assert hashlib.sha256((LEGACY / name).read_bytes()).hexdigest() == digest, name


def test_the_fixtures_cover_every_layout_and_kind() -> None:
    for version in (1, 2, 3):
        for kind in ("normal", "red", "pades", "fuller-font", "rare-name"):
            assert f"v{version}-{kind}.pdf" in PDFS
    assert "v3-qr-url.pdf" in PDFS


def test_every_certificate_expired_long_before_now_so_verification_is_as_of_signing() -> None:
    certificates = x509.load_pem_x509_certificates((LEGACY / "trust.pem").read_bytes())
    assert certificates
    for certificate in certificates:
        assert certificate.not_valid_after_utc <= datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", XMLS)
def test_every_xml_fixture_verifies(name: str) -> None:
    result = verify_receipt_xml((LEGACY / name).read_bytes(), _validator(), name)
    assert result.valid, result.findings


@pytest.mark.parametrize("name", PDFS)
@pytest.mark.parametrize("method", ["auto", "content"])
def test_every_pdf_fixture_verifies(name: str, method: str) -> None:
    result = verify_pdf((LEGACY / name).read_bytes(), _validator(), name, method=method)  # type: ignore[arg-type]
    assert result.valid, result.findings
    if "pades" not in name:
        assert result.receipt is not None
        assert extract_xml((LEGACY / name).read_bytes()) == (LEGACY / _xml_of(name)).read_bytes()


def _xml_of(pdf: str) -> str:
    return pdf.removesuffix(".pdf") + ".xml"


@pytest.mark.parametrize("name", [n for n in PDFS if "pades" not in n])
def test_a_fresh_render_gives_the_very_bytes(name: str) -> None:
    """The fast path: while the rendering libraries write what they wrote at release, a fixture
    re-renders to itself (docs/formats.md, "Receipt PDF", "Legacy fixtures")."""
    data = (LEGACY / name).read_bytes()
    font = None
    if "fuller-font" in name or "rare-name" in name:
        if not FULLER_FONT.exists():
            skip_or_fail(f"{FULLER_FONT} is not installed (Debian: fonts-wqy-zenhei)")
        font = FULLER_FONT
    fresh = render_pdf(extract_xml(data), font_path=font, layout_version=read_layout_version(data))
    if renderers_as_pinned():
        assert fresh == data
    else:
        # Other library versions (CI's floors job): the bytes may differ, the page may not. The
        # fresh render verifies by content, and so does the fixture by the default method.
        assert verify_pdf(fresh, _validator(), name, method="content").valid
        assert verify_pdf(data, _validator(), name).valid


def _resaved(data: bytes, **options: object) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(out, **options)  # type: ignore[arg-type]
        return out.getvalue()


def _recompressed(data: bytes, level: int) -> bytes:
    """Every Flate stream inflated and deflated again at ``level``, the page kept."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") in (
                pikepdf.Name.FlateDecode,
                pikepdf.Array([pikepdf.Name.FlateDecode]),
            ):
                raw = zlib.compress(obj.read_bytes(), level)
                obj.write(raw, filter=pikepdf.Name.FlateDecode)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


@pytest.mark.parametrize("name", [n for n in PDFS if "pades" not in n])
@pytest.mark.parametrize(
    "perturb",
    [
        lambda d: _resaved(d, object_stream_mode=pikepdf.ObjectStreamMode.generate),
        lambda d: _resaved(
            d, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.generalized
        ),
        lambda d: _recompressed(d, 9),
    ],
    ids=["object-streams", "uncompressed", "zlib-9"],
)
def test_other_bytes_with_the_same_page_still_verify_by_content(name: str, perturb: object) -> None:
    data = (LEGACY / name).read_bytes()
    assert callable(perturb)
    changed = perturb(data)
    assert changed != data
    assert not re.search(rb"/Prev\b", changed[-2048:])  # a whole new file, not an update
    render = verify_pdf(changed, _validator(), name, method="render")
    assert not render.valid  # the bytes changed: the fast path alone refuses it
    result = verify_pdf(changed, _validator(), name)
    assert result.valid, result.findings
