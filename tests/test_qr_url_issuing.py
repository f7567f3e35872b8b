"""Issuing with and without ``[serve] public_base_url`` (issue 16, item 3; docs/formats.md
"The QR URL"): the base URL signed into the receipt, its QR code a URL that verifies."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from cli import main
from receipts.issuing.issue import issue, reverse
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.render.qr import qr_content
from receipts.verify.receipt import verify_qr_text, verify_receipt_xml
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation, ok

BASE = "https://ghzs.yinchuan.example.cn"


def decode_qr(pdf: bytes, dpi: int = 200) -> str:
    """The one QR code on the PDF's page, read back with zxing-cpp."""
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


def test_issuing_signs_the_configured_base_url_or_none(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    plain = issue(ledger_db, make_issuer(), request())
    with_url = issue(ledger_db, make_issuer(public_base_url=BASE), request())
    red = reverse(ledger_db, make_issuer(public_base_url=BASE), plain.ref, "开错", "甲", "乙")
    validator = tier_pki().validator()
    with ledger_db.read() as session:
        xmls = [session.get(ReceiptRow, (o.ref.code, o.ref.number)) for o in (plain, with_url, red)]
    receipts = []
    for row in xmls:
        assert row is not None
        result = verify_receipt_xml(row.xml, validator)
        assert result.valid, result.findings
        assert result.receipt is not None
        receipts.append(result.receipt)
    assert b"PublicBaseUrl" not in xmls[0].xml  # type: ignore[union-attr]
    assert [r.public_base_url for r in receipts] == [None, BASE, BASE]
    assert qr_content(receipts[0]).startswith("UDR1|")
    assert qr_content(receipts[1]).startswith(f"{BASE}/q?")
    for receipt in receipts:
        assert verify_qr_text(qr_content(receipt), validator).valid


def test_a_workspace_with_a_public_base_url_issues_receipts_a_phone_opens(tmp_path: Path) -> None:
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")
    with (city / "receipts.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[serve]\npublic_base_url = "https://GHZS.yinchuan.example.cn/"\n')
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "5", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))
    ok(
        city,
        *("issue", "--payer-name", "宁夏贺兰山实业有限公司", "--payer-kind", "enterprise"),
        *("--payer-uscc", "91640100MA7600001J", "--item", "01:2026-10:100.00"),
        *("--handler", "甲", "--reviewer", "乙"),
    )
    runner = CliRunner(env=ENV)
    listing = ok(city, "--json", "stock", "list")
    segment = listing.split('"segment": "')[1][:8]
    xml = runner.invoke(main, ["--home", str(city), "show", segment, "1", "--xml"]).stdout_bytes
    assert f"<PublicBaseUrl>{BASE}</PublicBaseUrl>".encode() in xml
    (tmp_path / "r.xml").write_bytes(xml)
    out = tmp_path / "r.pdf"
    ok(city, "render", str(tmp_path / "r.xml"), "-o", str(out))
    url = decode_qr(out.read_bytes())
    assert url.startswith(f"{BASE}/q?c={segment}&n=0000000001&")
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(tier_pki().bundle.to_pem())
    for args in (["--qr", url], [str(out)]):
        checked = CliRunner().invoke(main, ["verify", *args, "--trust", str(bundle)])
        assert checked.exit_code == 0 and checked.output.startswith("VALID"), checked.output
