"""Verifying receipts: XML, QR text, the bad corpus, and the CLI over a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from receipts.errors import InvalidInput
from receipts.verify.receipt import verify_qr_text, verify_receipt_xml
from tests.support.pki import build_pki
from tests.support.receipt_corpus import bad_receipts, good_xml, still_valid_after_expiry


def test_good_receipt_verifies() -> None:
    result = verify_receipt_xml(good_xml(), build_pki().validator, "good.xml")
    assert result.valid and result.findings == ()
    assert result.receipt is not None and str(result.receipt.total) == "3409.50"
    assert result.label == f"{result.receipt.code}-0000000001"


def test_receipt_verifies_after_its_certificate_expired() -> None:
    result = verify_receipt_xml(still_valid_after_expiry(), build_pki().validator)
    assert result.valid, result.findings


@pytest.mark.parametrize("name", sorted(bad_receipts()))
def test_bad_receipt_has_its_own_finding(name: str) -> None:
    data, codes = bad_receipts()[name]
    result = verify_receipt_xml(data, build_pki().validator, name)
    assert not result.valid
    assert tuple(f.code for f in result.findings) == codes, result.findings


def _qr(data: bytes) -> str:
    from receipts.domain.xmlcodec import parse_receipt_xml
    from receipts.render.qr import qr_text

    return qr_text(parse_receipt_xml(data))


def test_qr_text_verifies_on_its_own() -> None:
    validator = build_pki().validator
    text = _qr(good_xml())
    assert verify_qr_text(text, validator).valid
    parts = text.split("|")
    parts[5] = "9999.00"
    assert [f.code for f in verify_qr_text("|".join(parts), validator).findings] == ["seal-invalid"]
    parts = text.split("|")
    parts[7] = "00000000"
    assert [f.code for f in verify_qr_text("|".join(parts), validator).findings] == ["unknown-key"]
    with pytest.raises(InvalidInput, match="not a receipt QR code"):
        verify_qr_text("https://example.com/?q=1", validator)


def test_cli_verifies_a_folder_and_names_each_finding(tmp_path: Path) -> None:
    pki = build_pki()
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(pki.bundle.to_pem())
    folder = tmp_path / "received"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "good.xml").write_bytes(good_xml())
    for name, (data, _) in bad_receipts().items():
        (folder / f"{name}.xml").write_bytes(data)
    (folder / "dangling.xml").symlink_to(tmp_path / "nowhere.xml")
    (folder / "notes.txt").write_text("not a receipt, not looked at")
    result = CliRunner().invoke(
        main, ["--json", "verify", str(folder), "--trust", str(bundle), "--workers", "2"]
    )
    assert result.exit_code == 1, result.output
    entries = {Path(e["source"]).name: e for e in json.loads(result.stdout)}
    assert entries["good.xml"]["valid"] is True
    assert [f["code"] for f in entries["dangling.xml"]["findings"]] == ["unreadable"]
    for name, (_, codes) in bad_receipts().items():
        found = tuple(f["code"] for f in entries[f"{name}.xml"]["findings"])
        assert found == codes, name
    assert "notes.txt" not in entries
    human = CliRunner().invoke(main, ["verify", str(folder / "sub"), "--trust", str(bundle)])
    assert human.exit_code == 0
    assert human.stdout.startswith("VALID    ")


def test_cli_verify_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "verify", "x.xml"])
    assert result.exit_code == 2
    assert (
        result.stderr == "error: give --trust BUNDLE (or run inside a workspace that trusts "
        "a root)\n"
    )
