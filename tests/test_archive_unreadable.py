"""An archive that cannot be read is reported as such, in one line with its finding code
(issue 14, defect 11b: it printed "None archive of None, 0 receipt(s), keep until None")."""

from __future__ import annotations

import json
from pathlib import Path

from receipts.support.safezip import write_zip
from receipts.support.sizes import MAX_PACKAGE_FILE_BYTES
from tests.support.workspaces import federation, receipts


def test_unreadable_archives_get_one_clear_line_each(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    not_zip = tmp_path / "not-a-zip.zip"
    not_zip.write_bytes(b"this is not a zip")
    no_manifest = tmp_path / "no-manifest.zip"
    no_manifest.write_bytes(write_zip({"receipts/x.xml": b"<x/>"}))
    too_big = tmp_path / "too-big.zip"
    with open(too_big, "wb") as handle:
        handle.truncate(MAX_PACKAGE_FILE_BYTES + 1)
    paths = [str(p) for p in (not_zip, no_manifest, too_big)]
    result = receipts(home, "archive", "verify", *paths)
    assert result.exit_code == 1, result.output
    assert "None" not in result.stdout
    assert result.stdout.splitlines() == [
        f"UNREADABLE  {not_zip}: archive-invalid: not-a-zip.zip is not a readable zip file: "
        "File is not a zip file",
        f"UNREADABLE  {no_manifest}: archive-invalid: no-manifest.zip has no manifest.xml",
        f"UNREADABLE  {too_big}: archive-invalid: {too_big} is too large for an archive: "
        f"{MAX_PACKAGE_FILE_BYTES + 1:,} bytes, at most {MAX_PACKAGE_FILE_BYTES:,} are accepted",
    ]
    report = json.loads(receipts(home, "--json", "archive", "verify", *paths).stdout)
    assert [(r["ok"], r["kind"], [f["code"] for f in r["findings"]]) for r in report] == [
        (False, None, ["archive-invalid"])
    ] * 3
