"""A version 1 package lists every receipt in its signed manifest (~265 bytes each), so a package
of 5,000 receipts has a manifest over the 1,000,000 bytes a receipt may have: it is read up to
MAX_MANIFEST_BYTES and imported whole (it was refused as unsafe-xml; bench/serve.py found it).
Version 2 (what ``transmit export`` writes) lists them in ``receipts.csv``: its manifest stays
small."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from receipts.commands.demo_files import batch_csv
from receipts.ledger.database import Database, default_url
from receipts.transmission.export import export_package
from signing.xmlparse import MAX_XML_BYTES
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok

RECEIPTS = 4_500


@pytest.mark.slow
def test_a_package_whose_manifest_is_over_a_megabyte_is_imported(tmp_path: Path) -> None:
    province, city = tmp_path / "640000", tmp_path / "640100"
    federation(province, "640000")
    federation(city, "640100")
    ok(province, "org", "add", "--code", "640100")
    allocation = str(tmp_path / "alloc.xml")
    ok(province, "stock", "allocate", "--to", "640100", "--count", str(RECEIPTS), "-o", allocation)
    ok(city, "stock", "import", allocation)
    batch = tmp_path / "batch.csv"
    batch.write_text(batch_csv(RECEIPTS, 16, "BIG"), encoding="utf-8")
    ok(city, "issue", "--batch", str(batch))
    package = tmp_path / "640100.zip"
    db = Database(default_url(city))
    package.write_bytes(export_package(db, tier_pki().signers["640100"], "640000", version=1)[0])
    db.dispose()

    with zipfile.ZipFile(package) as archive:
        assert archive.getinfo("manifest.xml").file_size > MAX_XML_BYTES
    ok(city, "transmit", "export", "-o", str(tmp_path / "v2.zip"))
    with zipfile.ZipFile(tmp_path / "v2.zip") as archive:
        assert archive.getinfo("manifest.xml").file_size < 10_000

    ok(province, "transmit", "import", str(package), "-o", str(tmp_path / "ack.xml"))
    ok(city, "transmit", "ack", str(tmp_path / "ack.xml"))
    summary = json.loads(ok(province, "--json", "stats"))["summary"]
    assert summary["issued_count"] == RECEIPTS
