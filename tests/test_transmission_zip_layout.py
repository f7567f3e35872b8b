"""A package is read by its central directory, not by the order of its members
(docs/operations.md, "Importing large packages"): receipts stored in any order are found and
imported; one whose bytes differ from its directory, or that is stored twice, refuses the
package whole. ``transmit export`` writes the file as it reads the ledger, and what it writes is
a zip any tool reads, its members those the manifest names."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from receipts.transmission.package import LISTING, NS
from tests.support.workspaces import ok, receipts
from tests.test_transmission import exported_city, receipts_in


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    """A province ready to import, and its city's package of four receipts."""
    _, prov, package = exported_city(tmp_path, 4)
    return prov, package


def _members(package: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(package) as z:
        assert z.testzip() is None
        return [(info.filename, z.read(info)) for info in z.infolist()]


def _zipped(members: list[tuple[str, bytes]], target: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def test_what_export_writes(exported: tuple[Path, Path]) -> None:
    _, package = exported
    members = dict(_members(package))
    root = etree.fromstring(members["manifest.xml"])
    named = {el.get("path") for el in root.iterfind(f"{{{NS}}}Member")}
    assert named == set(members) - {"manifest.xml"} - {n for n in members if "/" in n}
    listing = members[LISTING].splitlines()
    assert len(listing) == 4 and listing == sorted(listing)
    receipt_names = [n for n in members if n.startswith("receipts/")]
    assert receipt_names == sorted(receipt_names) and len(receipt_names) == 4


def test_receipts_stored_in_any_order_are_imported(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    prov, package = exported
    shuffled = _zipped(list(reversed(_members(package))), tmp_path / "reversed.zip")
    ok(prov, "transmit", "import", str(shuffled))
    assert len(receipts_in(prov)) == 4


def _refused(home: Path, package: Path, message: str) -> None:
    result = receipts(home, "transmit", "import", str(package))
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr, result.stderr
    assert not receipts_in(home)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_receipt_stored_twice_or_a_lying_header_is_refused(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    prov, package = exported
    members = _members(package)
    name, xml = next((n, d) for n, d in members if n.startswith("receipts/"))
    twice = _zipped([*members, (name, xml)], tmp_path / "twice.zip")
    _refused(prov, twice, f"member '{name}' appears twice")
    data = bytearray(package.read_bytes())
    assert data[30:42] == b"events.jsonl"  # the first member's name, in its local header
    data[30] ^= 0x20  # "Events.jsonl" there, "events.jsonl" in the central directory
    (tmp_path / "header.zip").write_bytes(bytes(data))
    _refused(prov, tmp_path / "header.zip", "local header differs from the central directory")


def test_the_manifest_bound_does_not_grow_past_its_cap_with_an_unsigned_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The central directory's member count (unsigned) raises the manifest's allowance, 2 KiB a
    member: extra directory entries must not lift it past MAX_MANIFEST_BYTES, where a manifest
    would be read and parsed before its signature is checked (here the cap is lowered to 1 MiB)."""
    import receipts.transmission.package_stream as package_stream
    from receipts.transmission.import_settings import ImportSettings
    from receipts.transmission.package import RefusedPackage
    from tests.support.tier_pki import tier_pki

    monkeypatch.setattr(package_stream, "MAX_MANIFEST_BYTES", 1024 * 1024)
    path = tmp_path / "big-manifest.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("manifest.xml", b"<m>" + b" " * (1024 * 1024) + b"</m>")
        for i in range(1, 600):  # 600 members allow 16 MiB by count
            z.writestr(f"receipts/64710126-{i:010d}.xml", b"<r/>")
    settings = ImportSettings()
    assert settings.listing_bytes(600) > 1024 * 1024
    with (
        pytest.raises(RefusedPackage, match=r"manifest.xml is 1,048,583 bytes; at most 1,048,576"),
        package_stream.open_package(path, tier_pki().validator(), "big.zip", settings),
    ):
        pass
