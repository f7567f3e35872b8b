"""The QR code a phone opens (issue 16, item 3; docs/formats.md "The QR URL", docs/security.md
"The QR URL"): the URL's strict form, the base URL signed into the receipt and covered by the
seal (UDR2), layout 3, ``verify --qr`` with the URL or the classic text, old PDFs unchanged."""

from __future__ import annotations

import dataclasses
import io
from functools import cache
from pathlib import Path

import pikepdf
import pypdfium2
import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from cli import main
from receipts.domain.divisions import issuer_may_certify
from receipts.domain.model import Receipt
from receipts.domain.qr_url import (
    MAX_QR_URL,
    canonical_base_url,
    qr_url,
    seal_text_from_url,
    split_qr_url,
)
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput, InvalidReceipt
from receipts.render.layout import LATEST_LAYOUT
from receipts.render.qr import qr_content, qr_matrix, qr_text
from receipts.render.receipt_pdf import RenderError, read_layout_version, render_pdf
from receipts.verify.pdf import verify_pdf
from receipts.verify.receipt import verify_qr_text, verify_receipt_xml
from receipts.workspace import WorkspaceConfig, WorkspaceKind
from signing.trust import ChainValidator, TrustBundle
from tests.support.pdf import normal_receipt, normal_xml, reversal_receipt, sign_receipt
from tests.support.pki import build_pki

BASE = "https://ghzs.yinchuan.example.cn"
V1 = Path(__file__).parent / "data" / "layout_v1"
CLASSIC = (
    "UDR1|64710126|0000000001|k3x9q2|20261128|3532.95|640100|0a1b2c3d|"
    "SDCQrdX-e8RK2-YeJr2K9azLlg1NxtwPYth8IzcbMvNLbf9uKmuJjz0NqOwBOzhT6Y7m7EU9rdQrUN5iyvXH3Q"
)
URL = qr_url(BASE, CLASSIC)


def _with_base(receipt: Receipt, base: str = BASE) -> Receipt:
    return dataclasses.replace(receipt, public_base_url=base)


@cache
def _url_xml() -> bytes:
    return sign_receipt(_with_base(normal_receipt()))


@cache
def _url_pdf() -> bytes:
    return render_pdf(_url_xml())


def decode_qr(pdf: bytes, dpi: int = 200) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=dpi / 72).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(found) == 1
    text: str = found[0].text
    return text


def _version(text: str) -> int:
    return (qr_matrix(text).size - 17) // 4


# The URL itself -------------------------------------------------------------------------------


def test_url_round_trips_to_the_classic_text() -> None:
    assert (
        f"{BASE}/q?c=64710126&n=0000000001&x=k3x9q2&d=20261128&a=3532.95&i=640100&k=0a1b2c3d"
        f"&s={CLASSIC.rsplit('|', 1)[1]}"
    ) == URL
    assert seal_text_from_url(URL) == CLASSIC
    assert split_qr_url(URL) == (BASE, CLASSIC)
    loopback = qr_url("http://127.0.0.1:8443/node", CLASSIC)
    assert split_qr_url(loopback) == ("http://127.0.0.1:8443/node", CLASSIC)
    negative = CLASSIC.replace("|3532.95|", "|-3532.95|")
    assert seal_text_from_url(qr_url(BASE, negative)) == negative


def _swap(old: str, new: str) -> str:
    assert old in URL
    return URL.replace(old, new, 1)


MALFORMED = {
    "wrong-scheme": "ftp" + URL[len("https") :],
    "http-for-a-public-host": "http" + URL[len("https") :],
    "no-scheme": URL[len("https://") :],
    "no-query": URL.partition("?")[0],
    "path-not-q": _swap("/q?", "/query?"),
    "path-with-trailing-slash": _swap("/q?", "/q/?"),
    "base-with-trailing-slash": _swap(".cn/q?", ".cn//q?"),
    "base-with-upper-case-host": _swap("ghzs", "GHZS"),
    "base-with-credentials": _swap("https://", "https://user:pw@"),
    "base-with-dot-segment": _swap(".cn/q?", ".cn/../q?"),
    "base-with-bad-port": _swap(".cn/q?", ".cn:99999/q?"),
    "fragment": URL + "#x",
    "extra-parameter": URL + "&z=1",
    "known-parameter-twice": URL + "&c=64710126",
    "missing-parameter": _swap("&i=640100", ""),
    "parameters-out-of-order": _swap("c=64710126&n=0000000001", "n=0000000001&c=64710126"),
    "parameter-without-value": _swap("&i=640100", "&i"),
    "empty-value": _swap("i=640100", "i="),
    "percent-escape": _swap("x=k3x9q2", "x=k3x9q%32"),
    "plus-sign": _swap("a=3532.95", "a=+3532.95"),
    "short-number": _swap("n=0000000001", "n=1"),
    "upper-case-check-code": _swap("x=k3x9q2", "x=K3X9Q2"),
    "amount-one-decimal": _swap("a=3532.95", "a=3532.9"),
    "amount-leading-zero": _swap("a=3532.95", "a=03532.95"),
    "amount-zero": _swap("a=3532.95", "a=0.00"),
    "date-not-a-date": _swap("d=20261128", "d=20261340"),
    "issuer-not-six-digits": _swap("i=640100", "i=64010"),
    "key-id-upper-case": _swap("k=0a1b2c3d", "k=0A1B2C3D"),
    "seal-too-short": URL[: URL.index("&s=") + 10],
    "seal-with-padding": URL + "==",
    "space": _swap("c=64710126", "c=6471 0126"),
    "control-character": _swap("c=64710126", "c=64710126\n"),
    "non-ascii-host": _swap("ghzs", "工会"),
    "over-long": qr_url(BASE, CLASSIC).replace("&s=", "&s=" + "A" * MAX_QR_URL),
}


@pytest.mark.parametrize("rule", sorted(MALFORMED))
def test_malformed_url_is_refused_in_one_line(rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        seal_text_from_url(MALFORMED[rule])
    message = str(caught.value)
    assert message and "\n" not in message and len(message) < 400 + MAX_QR_URL, message


def test_qr_url_refuses_a_bad_base_or_text() -> None:
    with pytest.raises(InvalidInput, match="canonical form"):
        qr_url(BASE + "/", CLASSIC)
    with pytest.raises(InvalidInput, match="not a receipt QR text"):
        qr_url(BASE, "UDR2" + CLASSIC[4:])


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("https://ghzs.yinchuan.example.cn/", BASE),
        ("HTTPS://GHZS.Yinchuan.Example.CN", BASE),
        ("https://ghzs.example.cn:8443/receipts/", "https://ghzs.example.cn:8443/receipts"),
        ("https://ghzs.example.cn:443", "https://ghzs.example.cn"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://[2001:db8::1]", "https://[2001:db8::1]"),
    ],
)
def test_configured_base_url_is_written_canonically(written: str, canonical: str) -> None:
    assert canonical_base_url(written) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "http://ghzs.example.cn",  # http only for loopback
        "http://10.0.0.1",
        "https://ghzs.example.cn?x=1",
        "https://ghzs.example.cn/#top",
        "https://user@ghzs.example.cn",
        "https://ghzs.example.cn/a%20b",
        "https://ghzs.example.cn/a b",
        "https://工会.cn",
        "https://" + "a" * 200 + ".cn",
        "https://",
        "https://1.2.3",
        "https://-x.cn",
        "https://ghzs.example.cn/a|b",
        "ghzs.example.cn",
    ],
)
def test_bad_base_url_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        canonical_base_url(bad)
    assert "\n" not in str(caught.value)


def test_workspace_reads_serve_public_base_url_and_keeps_the_table() -> None:
    workspace: dict[str, object] = {
        "kind": "federation",
        "name": "银川市总工会",
        "org_code": "640100",
        "tier": "city",
    }
    doc: dict[str, dict[str, object]] = {
        "workspace": workspace,
        "serve": {"public_base_url": "https://GHZS.yinchuan.example.cn/", "port": 8443},
    }
    config = WorkspaceConfig.from_toml(doc)
    assert config.public_base_url == BASE
    assert config.to_toml()["serve"] == doc["serve"]
    assert WorkspaceConfig(WorkspaceKind.PAYER, "x", uscc="91640100MA7600001J").serve == {}
    doc["serve"] = {"public_base_url": "http://ghzs.yinchuan.example.cn"}
    with pytest.raises(InvalidInput, match=r"\[serve\] public_base_url .* must use https"):
        WorkspaceConfig.from_toml(doc)


# The signed element and the seal -------------------------------------------------------------


def test_the_base_url_is_in_the_signed_xml_and_the_seal_signs_it() -> None:
    xml = _url_xml()
    assert f"<PublicBaseUrl>{BASE}</PublicBaseUrl>".encode() in xml
    result = verify_receipt_xml(xml, build_pki().validator)
    assert result.valid, result.findings
    assert result.receipt is not None and result.receipt.public_base_url == BASE


def test_editing_the_base_url_breaks_the_signature() -> None:
    forged = _url_xml().replace(BASE.encode(), b"https://ghzs.yinchuan.example.com")
    result = verify_receipt_xml(forged, build_pki().validator)
    assert not result.valid
    assert "digest-mismatch" in [f.code for f in result.findings]


@pytest.mark.parametrize(
    ("base", "refusal"),
    [
        ("https://ghzs.example.cn/x/..", "public base URL .* path other than plain segments"),
        ("https://ghzs.example.cn:443", "public base URL .* not in canonical form"),
        ("https://ghzs.example.cn:0443", "public base URL .* invalid port"),
        ("https://ghzs.example.cn/", "PublicBaseUrl"),  # the schema's pattern
        ("https://ghzs.example.cn?x=1", "PublicBaseUrl"),
    ],
)
def test_a_non_canonical_base_url_in_the_xml_is_refused(base: str, refusal: str) -> None:
    element = f"<PublicBaseUrl>{base}</PublicBaseUrl>\n  <QRSeal>".encode()
    with pytest.raises(InvalidReceipt, match=refusal):
        parse_receipt_xml(normal_xml().replace(b"<QRSeal>", element))


def test_a_receipt_with_a_base_url_draws_no_classic_qr_text() -> None:
    receipt = parse_receipt_xml(_url_xml())
    with pytest.raises(RenderError, match="layout 3"):
        qr_text(receipt)
    for old in (1, 2):
        with pytest.raises(RenderError, match="layout 3"):
            render_pdf(_url_xml(), layout_version=old)


# verify --qr ------------------------------------------------------------------------------------


def test_v3_pdf_verifies_and_its_qr_decodes_to_the_url() -> None:
    pdf = _url_pdf()
    assert read_layout_version(pdf) == LATEST_LAYOUT == 3
    result = verify_pdf(pdf, build_pki().validator, "r.pdf")
    assert result.valid, result.findings
    url = decode_qr(pdf)
    receipt = parse_receipt_xml(_url_xml())
    assert url == qr_content(receipt)
    assert url.startswith(f"{BASE}/q?c=64710126&n=0000000001&")
    assert verify_qr_text(url, build_pki().validator).valid


def test_verify_qr_accepts_the_url_and_the_classic_text(tmp_path: Path) -> None:
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(build_pki().bundle.to_pem())
    url = qr_content(parse_receipt_xml(_url_xml()))
    classic = qr_text(parse_receipt_xml(normal_xml()))
    for scanned in (url, classic):
        result = CliRunner().invoke(main, ["verify", "--qr", scanned, "--trust", str(bundle)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("VALID"), result.output
    bad = CliRunner().invoke(main, ["verify", "--qr", url + "&z=1", "--trust", str(bundle)])
    assert bad.exit_code == 2
    assert bad.stderr == "error: not a receipt QR code: QR URL has an unknown parameter 'z'\n"


def test_a_swapped_host_is_detected() -> None:
    validator = build_pki().validator
    url = qr_content(parse_receipt_xml(_url_xml()))
    phishing = url.replace(BASE, "https://ghzs-yinchuan.example.com")
    result = verify_qr_text(phishing, validator)
    assert [f.code for f in result.findings] == ["seal-invalid"]
    assert "do not trust the page it opens" in result.findings[0].message
    # Nor does the URL's classic text verify on its own: the seal signs the URL.
    stripped = verify_qr_text(seal_text_from_url(url), validator)
    assert [f.code for f in stripped.findings] == ["seal-invalid"]
    # And another field still breaks it, as in the classic text.
    assert not verify_qr_text(url.replace("a=3532.95", "a=9532.95"), validator).valid


def test_old_layout_1_pdfs_still_verify() -> None:
    validator = ChainValidator(
        TrustBundle.load(V1 / "trust.pem"), issuer_may_certify=issuer_may_certify
    )
    for name in ("normal.pdf", "normal-pades.pdf"):
        data = (V1 / name).read_bytes()
        assert read_layout_version(data) == 1
        result = verify_pdf(data, validator, name)
        assert result.valid, result.findings


def test_layout_3_without_a_base_url_draws_layout_2s_page() -> None:
    # A receipt issued without [serve] public_base_url: the classic text, on layout 2's page.
    v2 = render_pdf(normal_xml(), layout_version=2)
    v3 = render_pdf(normal_xml(), layout_version=3)
    assert decode_qr(v3) == qr_text(parse_receipt_xml(normal_xml())) == decode_qr(v2)
    assert _page_content(v3) == _page_content(v2)
    assert verify_pdf(v3, build_pki().validator, "r.pdf").valid


def _page_content(pdf: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return bytes(doc.pages[0].Contents.read_bytes())


# Size of the symbol -----------------------------------------------------------------------------


def test_symbol_sizes_and_a_long_base_url_still_decodes() -> None:
    receipt = parse_receipt_xml(_url_xml())
    assert _version(qr_text(parse_receipt_xml(normal_xml()))) == 8  # 49 modules
    assert _version(qr_content(receipt)) == 10  # 57 modules under a 31-character base
    longest = "https://" + ".".join(["a" * 60] * 3 + ["a" * 6]) + ".cn"
    assert len(longest) == 200
    xml = sign_receipt(_with_base(reversal_receipt(), longest))
    pdf = render_pdf(xml)
    assert _version(decode_qr(pdf)) <= 15
    assert decode_qr(pdf) == qr_content(parse_receipt_xml(xml))
    assert verify_pdf(pdf, build_pki().validator, "red.pdf").valid
