"""Version 2 packages list their receipts in ``receipts.csv`` (docs/formats.md, "Transmission
packages and acknowledgements"): a listing that differs from its signed digest, that a sender
signed with a duplicate, with a receipt the package lacks or with another digest, or that leaves
a receipt member out, refuses the package whole; a version 1 package is still imported."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from receipts.ledger.database import Database, default_url
from receipts.support.safezip import write_zip
from receipts.transmission.export import export_package
from receipts.transmission.package import LISTING, NS
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ok, receipts
from tests.test_transmission import exported_city, receipts_in

_DS = "http://www.w3.org/2000/09/xmldsig#"


@pytest.fixture
def city_and_province(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A city with three receipts exported (version 2) and its province ready to import."""
    return exported_city(tmp_path, 3)


def _members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as z:
        return {n: z.read(n) for n in z.namelist()}


def _resigned(package: Path, listing: bytes, target: Path) -> Path:
    """The package with ``listing`` in place of its own, its manifest re-signed by the sender
    (a sender that lies, not a package changed on the way)."""
    members = _members(package)
    root = etree.fromstring(members["manifest.xml"])
    for signature in root.findall(f"{{{_DS}}}Signature"):
        root.remove(signature)
    for member in root.iterfind(f"{{{NS}}}Member"):
        if member.get("path") == LISTING:
            member.set("digest", hashlib.sha256(listing).hexdigest())
    for el in root.iter():
        el.tail = None if el is not root else el.tail
        if len(el):
            el.text = None
    signer = tier_pki().signers["640100"]
    members["manifest.xml"] = signer.sign_document(root, datetime.now(UTC).replace(microsecond=0))
    members[LISTING] = listing
    target.write_bytes(write_zip(members))
    return target


def _refused(home: Path, package: Path, message: str) -> None:
    before = receipts_in(home)
    result = receipts(home, "transmit", "import", str(package))
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr, result.stderr
    assert receipts_in(home) == before


def test_v2_listing_refusals(city_and_province: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, prov, package = city_and_province
    members = _members(package)
    root = etree.fromstring(members["manifest.xml"])
    assert root.get("version") == "2"
    assert root.find(f"{{{NS}}}Receipt") is None
    lines = members[LISTING].splitlines(keepends=True)
    assert len(lines) == 3 and lines == sorted(lines)

    changed = dict(members)  # changed on the way: the signed digest no longer matches
    flipped = lines[1][:-2] + (b"0" if lines[1][-2:-1] != b"0" else b"1") + b"\n"
    changed[LISTING] = lines[0] + flipped + lines[2]
    (tmp_path / "changed.zip").write_bytes(write_zip(changed))
    _refused(prov, tmp_path / "changed.zip", f"member {LISTING} was changed")

    duplicate = _resigned(package, lines[0] + lines[0] + lines[2], tmp_path / "dup.zip")
    _refused(prov, duplicate, "twice or out of order")

    unordered = _resigned(package, lines[1] + lines[0] + lines[2], tmp_path / "order.zip")
    _refused(prov, unordered, "twice or out of order")

    # A listed receipt the package lacks (the number after the last), the last left unlisted.
    code, number, rest = lines[2].split(b",", 2)
    absent = b"%s,%010d,%s" % (code, int(number) + 20, rest)
    missing = _resigned(package, lines[0] + lines[1] + absent, tmp_path / "missing.zip")
    _refused(prov, missing, f"receipts/{code.decode()}-{int(number) + 20:010d}.xml is missing")

    other_digest = lines[2][:-65] + b"0" * 64 + b"\n"
    wrong = _resigned(package, lines[0] + lines[1] + other_digest, tmp_path / "wrong.zip")
    _refused(prov, wrong, "is listed but the sender's events did not issue it")

    short = _resigned(package, lines[0] + lines[1], tmp_path / "short.zip")
    _refused(prov, short, "does not list the counts per issuer stated")

    ok(prov, "transmit", "import", str(package))
    assert len(receipts_in(prov)) == 3


def test_v2_receipt_member_not_listed(
    city_and_province: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, prov, package = city_and_province
    members = _members(package)
    name = next(n for n in members if n.startswith("receipts/"))
    members["receipts/64710126-0000000049.xml"] = members[name]
    (tmp_path / "extra.zip").write_bytes(write_zip(members))
    _refused(prov, tmp_path / "extra.zip", "4 receipt members, but the manifest states 3")


def test_v1_package_still_imported(
    city_and_province: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    city, prov, _ = city_and_province
    db = Database(default_url(city))
    data, manifest = export_package(db, tier_pki().signers["640100"], "640000", version=1)
    db.dispose()
    root = etree.fromstring(_members_of(data)["manifest.xml"])
    assert root.get("version") == "1" and len(root.findall(f"{{{NS}}}Receipt")) == 3
    assert LISTING not in _members_of(data) and manifest.receipt_count == 3
    (tmp_path / "v1.zip").write_bytes(data)
    ok(prov, "transmit", "import", str(tmp_path / "v1.zip"))
    assert len(receipts_in(prov)) == 3


def _members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}
