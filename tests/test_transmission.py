"""Between the tiers: city and county → province → national, with acknowledgements back."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, text

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from receipts.support.safezip import write_zip
from receipts.transmission.export import export_package
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok, receipts

ISSUE = [
    "issue",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--handler",
    "张晓梅",
    "--reviewer",
    "李建国",
]


def issue(home: Path, payer: str, amount: str) -> None:
    ok(home, *ISSUE, "--payer-name", payer, "--item", f"01:2026-10:{amount}")


def exported_city(tmp_path: Path, count: int) -> tuple[Path, Path, Path]:
    """A city with ``count`` receipts exported (what ``transmit export`` writes), and its
    province ready to import them: (city, province, package)."""
    city, prov = tmp_path / "640100", tmp_path / "640000"
    federation(city, "640100")
    federation(prov, "640000")
    ok(prov, "org", "add", "--code", "640100")
    alloc = tmp_path / "alloc.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o", str(alloc))
    ok(city, "stock", "import", str(alloc))
    for n in range(count):
        issue(city, f"企业{n}", f"{10 + n}.00")
    package = tmp_path / "city.zip"
    ok(city, "transmit", "export", "-o", str(package))
    return city, prov, package


@pytest.fixture
def tiers(tmp_path: Path) -> dict[str, Path]:
    homes = {org: tmp_path / org for org in ("000000", "640000", "640100", "640104")}
    for org, home in homes.items():
        federation(home, org)
    prov = homes["640000"]
    for child in ("640100", "640104"):
        ok(prov, "org", "add", "--code", child)
        alloc = tmp_path / f"alloc-{child}.xml"
        ok(prov, "stock", "allocate", "--to", child, "--count", "50", "-o", str(alloc))
        ok(homes[child], "stock", "import", str(alloc))
    ok(prov, "stock", "allocate", "--to", "640000", "--count", "50")
    ok(homes["000000"], "stock", "allocate", "--to", "000000", "--count", "50")
    return homes


def receipts_in(home: Path) -> dict[tuple[str, int], tuple[str, int]]:
    db = Database(default_url(home))
    with db.read() as session:
        rows = {
            (r.code, r.number): (r.digest, r.total_fen) for r in session.scalars(select(ReceiptRow))
        }
    db.dispose()
    return rows


def send(sender: Path, receiver: Path, package: Path) -> None:
    ok(sender, "transmit", "export", "-o", str(package))
    ok(receiver, "transmit", "import", str(package))
    ok(sender, "transmit", "ack", str(package.with_name(package.stem + ".ack.xml")))


def test_three_tier_round_trip(tiers: dict[str, Path], tmp_path: Path) -> None:
    city, county, prov, nation = (tiers[o] for o in ("640100", "640104", "640000", "000000"))
    for n in range(3):
        issue(city, f"银川企业{n}", f"{100 + n}.00")
    issue(county, "兴庆区企业", "55.50")
    issue(county, "兴庆区企业乙", "44.50")
    issue(prov, "自治区直属企业", "1000.00")
    send(city, prov, tmp_path / "city-1.zip")
    send(county, prov, tmp_path / "county-1.zip")
    send(prov, nation, tmp_path / "prov-1.zip")
    everything = {**receipts_in(city), **receipts_in(county)}
    everything.update({k: v for k, v in receipts_in(prov).items()})
    assert len(everything) == 6
    assert receipts_in(prov) == everything
    assert receipts_in(nation) == everything
    assert sum(total for _, total in receipts_in(nation).values()) == 140_300
    for home in tiers.values():
        assert receipts(home, "audit").exit_code == 0, home
    listing = json.loads(ok(city, "--json", "transmit", "list"))
    assert [t["status"] for t in listing] == ["acknowledged"]
    again = receipts(prov, "transmit", "import", str(tmp_path / "city-1.zip"))
    assert again.exit_code == 0 and "already imported (nothing changed)" in again.stdout
    assert ok(city, "transmit", "export", "-o", str(tmp_path / "none.zip")).startswith(
        "nothing to transmit"
    )


def test_lost_package_is_resent_by_the_next_export(tiers: dict[str, Path], tmp_path: Path) -> None:
    city, prov = tiers["640100"], tiers["640000"]
    issue(city, "甲", "10.00")
    ok(city, "transmit", "export", "-o", str(tmp_path / "lost.zip"))  # never arrives
    issue(city, "乙", "20.00")
    send(city, prov, tmp_path / "second.zip")
    assert len(receipts_in(prov)) == 2


def refused(home: Path, package: Path, message: str) -> None:
    before = receipts_in(home)
    result = receipts(home, "transmit", "import", str(package))
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr, result.stderr
    assert receipts_in(home) == before


def _rezip(package: Path, change: dict[str, bytes | None], target: Path) -> Path:
    with zipfile.ZipFile(package) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name, content in change.items():
        if content is None:
            members.pop(name, None)
        else:
            members[name] = content
    target.write_bytes(write_zip(members))
    return target


def test_bad_packages_are_refused_whole(tiers: dict[str, Path], tmp_path: Path) -> None:
    city, county, prov, nation = (tiers[o] for o in ("640100", "640104", "640000", "000000"))
    issue(city, "甲", "10.00")
    issue(city, "乙", "20.00")
    package = tmp_path / "city.zip"
    ok(city, "transmit", "export", "-o", str(package))
    with zipfile.ZipFile(package) as z:
        name = next(n for n in z.namelist() if n.startswith("receipts/"))
        xml = z.read(name)
    refused(
        prov,
        _rezip(package, {name: xml.replace(b"10.00", b"90.00")}, tmp_path / "t.zip"),
        # Version 2: a receipt member is held to its own signature and its listed digest.
        f"{name}: digest-mismatch",
    )
    refused(
        prov,
        _rezip(package, {"receipts/extra.xml": xml}, tmp_path / "x.zip"),
        "3 receipt members, but the manifest states 2 receipts",
    )
    refused(nation, package, "city.zip is addressed to 640000, not to 000000")
    forged = tmp_path / "forged.zip"  # addressed past the province, straight to the nation
    db = Database(default_url(city))
    forged.write_bytes(export_package(db, tier_pki().signers["640100"], "000000")[0])
    db.dispose()
    refused(nation, forged, "comes from 640100, whose upstream is 640000, not 000000")
    county_pkg = tmp_path / "county.zip"
    issue(county, "丙", "5.00")
    ok(county, "transmit", "export", "-o", str(county_pkg))
    refused(city, county_pkg, "county.zip is addressed to 640000, not to 640100")
    evil = tmp_path / "evil.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("../../etc/cron.d/evil", b"* * * * * root true")
    evil.write_bytes(buffer.getvalue())
    refused(prov, evil, "member path '../../etc/cron.d/evil' is not allowed")
    bomb = tmp_path / "bomb.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.xml", b"\0" * 20_000_000)
    bomb.write_bytes(buffer.getvalue())
    refused(prov, bomb, "is 20,000,000 bytes; at most 16,777,216 are accepted")
    db = Database(default_url(prov))
    with db.read() as session:
        session.execute(text("DELETE FROM segments WHERE holder = '640100'"))
        session.commit()
    db.dispose()
    refused(prov, package, "lies outside every segment allocated to 640100")


def test_the_held_head_of_a_tier_below_is_its_imports_not_an_editable_row(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    """The tier above's copy of a sender's chain is the one defence left against the sender's
    rollback. An insider who deleted the peer_heads row had the next package (here any) taken as
    a first one; the held head is the furthest the import events record, and the row is held to
    it: the import refuses, the audit names it."""
    city, prov = tiers["640100"], tiers["640000"]
    issue(city, "甲", "10.00")
    send(city, prov, tmp_path / "city-1.zip")
    db = Database(default_url(prov))
    with db.write() as (session, _):
        session.execute(text("DELETE FROM peer_heads"))
    db.dispose()
    report = receipts(prov, "--json", "audit")
    assert report.exit_code == 1, report.output
    codes = [f["code"] for f in json.loads(report.stdout)["findings"]]
    assert codes == ["transmission-mismatch"]
    issue(city, "乙", "20.00")
    ok(city, "transmit", "export", "-o", str(tmp_path / "city-2.zip"))
    refused(prov, tmp_path / "city-2.zip", "the head held for 640100 (None) is not the one")


def test_a_first_package_from_a_sender_starts_at_its_genesis(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    """With nothing held from a sender, a package starting mid-chain would be taken on its
    word (a rewritten chain's tail): refused."""
    prov, nation = tiers["640000"], tiers["000000"]
    issue(prov, "自治区直属企业", "10.00")
    send(prov, nation, tmp_path / "prov-1.zip")
    issue(prov, "自治区直属企业乙", "20.00")
    ok(prov, "transmit", "export", "-o", str(tmp_path / "prov-2.zip"))  # starts after the ack
    elsewhere = tmp_path / "another-national"
    federation(elsewhere, "000000")
    ok(elsewhere, "stock", "allocate", "--to", "000000", "--count", "5")  # its ledger made
    refused(elsewhere, tmp_path / "prov-2.zip", "the first package from 640000 must start at")
