"""Issue 15, defect 3: a stock write-off (核销) at the city travels up in its signed chain and
closes the segment at the allocator (and, forwarded, at the national tier); a package whose
write-off names a segment that is not the sender's from this allocator, or that disagrees with
the receipts issued from it, is refused whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from receipts.ledger.database import Database, default_url
from receipts.ledger.events import append_event
from receipts.ledger.migrate import initialise
from receipts.ledger.models import Event, ReceiptRow, Segment
from tests.support.postgres import PgSchemas
from tests.support.workspaces import federation, ok, receipts

ISSUE = [
    "issue",
    "--payer-name",
    "宁夏贺兰山实业有限公司",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--handler",
    "张晓梅",
    "--reviewer",
    "李建国",
]


def issue(home: Path, amount: str = "100.00") -> None:
    ok(home, *ISSUE, "--item", f"01:2026-10:{amount}")


@pytest.fixture
def tiers(tmp_path: Path) -> dict[str, Path]:
    """National, 宁夏 and two of its city-tier federations, each city holding 10 numbers."""
    homes = {org: tmp_path / org for org in ("000000", "640000", "640100", "640104")}
    for org, home in homes.items():
        federation(home, org)
    prov = homes["640000"]
    for child in ("640100", "640104"):
        ok(prov, "org", "add", "--code", child)
        alloc = tmp_path / f"alloc-{child}.xml"
        ok(prov, "stock", "allocate", "--to", child, "--count", "10", "-o", str(alloc))
        ok(homes[child], "stock", "import", str(alloc))
    return homes


def segment_of(home: Path) -> str:
    [entry] = json.loads(ok(home, "--json", "stock", "list"))
    return str(entry["segment"])


def send(sender: Path, receiver: Path, package: Path, ack: bool = True) -> str:
    """Export, import and (unless ``ack`` is False) acknowledge; what the import printed."""
    ok(sender, "transmit", "export", "-o", str(package))
    imported = ok(receiver, "transmit", "import", str(package))
    if ack:
        ok(sender, "transmit", "ack", str(package.with_name(package.stem + ".ack.xml")))
    return imported


def stock_at(home: Path, segment: str) -> dict[str, Any]:
    listing = json.loads(ok(home, "--json", "stock", "list"))
    return next(e for e in listing if e["segment"] == segment)


def reconciled_at(home: Path, segment: str) -> dict[str, Any]:
    data = json.loads(receipts(home, "--json", "reconcile", "stock").stdout)
    return next(line for line in data["lines"] if line["subject"] == segment)


def test_write_off_closes_the_segment_at_the_province_and_the_nation(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, prov, nation = tiers["640100"], tiers["640000"], tiers["000000"]
    label = segment_of(city)
    issue(city)
    issue(city)
    send(city, prov, tmp_path / "c1.zip")
    issue(city)
    ok(city, "stock", "write-off", label)
    assert f" written off: {label};" in send(city, prov, tmp_path / "c2.zip")

    at_prov = stock_at(prov, label)
    assert (at_prov["holder"], at_prov["used"], at_prov["free"], at_prov["status"]) == (
        "640100",
        3,
        0,
        "written off",
    )
    line = reconciled_at(prov, label)
    assert (line["status"], line["issued"], line["unused"], line["gaps"]) == (
        "written off",
        3,
        7,
        0,
    )
    assert receipts(prov, "audit").exit_code == 0
    # The city's other segment-holder is untouched.
    other = segment_of(tiers["640104"])
    assert stock_at(prov, other)["status"] == "open"

    # Forwarded: the province's own chain records the write-off, and the nation closes it too.
    send(prov, nation, tmp_path / "p1.zip")
    assert stock_at(nation, label)["status"] == "written off"
    assert receipts(nation, "audit").exit_code == 0


def test_a_write_off_with_no_receipts_travels_alone(tiers: dict[str, Path], tmp_path: Path) -> None:
    """No receipt was issued from the segment: the package carries only the event, and the
    province forwards the allocation with it so that the nation, which never saw the segment,
    can close it."""
    county, prov, nation = tiers["640104"], tiers["640000"], tiers["000000"]
    label = segment_of(county)
    ok(county, "stock", "write-off", label)
    send(county, prov, tmp_path / "c1.zip")
    assert (stock_at(prov, label)["status"], stock_at(prov, label)["free"]) == ("written off", 0)
    send(prov, nation, tmp_path / "p1.zip")
    assert stock_at(nation, label)["status"] == "written off"


def test_a_resent_write_off_changes_nothing(tiers: dict[str, Path], tmp_path: Path) -> None:
    """The acknowledgement was lost: the next package carries the write-off again."""
    city, prov = tiers["640100"], tiers["640000"]
    label = segment_of(city)
    issue(city)
    ok(city, "stock", "write-off", label)
    assert "written off" in send(city, prov, tmp_path / "c1.zip", ack=False)
    assert "written off" not in send(city, prov, tmp_path / "c2.zip")
    assert stock_at(prov, label)["status"] == "written off"
    assert receipts(prov, "audit").exit_code == 0
    assert count_events(prov, "stock.written_off") == 1


# --- the attacker's cases: the city's own signed chain carries a write-off it should not -------


def count_events(home: Path, kind: str) -> int:
    db = Database(default_url(home))
    with db.read() as session:
        n = session.scalar(select(func.count()).select_from(Event).where(Event.kind == kind))
    db.dispose()
    return int(n or 0)


def stored(home: Path) -> tuple[object, ...]:
    db = Database(default_url(home))
    with db.read() as session:
        facts = (
            session.scalar(select(func.count()).select_from(Event)),
            sorted(session.execute(select(ReceiptRow.code, ReceiptRow.number)).all()),
            sorted(
                session.execute(select(Segment.code, Segment.first, Segment.written_off_at)).all()
            ),
        )
    db.dispose()
    return facts


def forge_write_off(home: Path, payload: dict[str, Any]) -> None:
    """Append a ``stock.written_off`` event to the ledger's chain without closing anything: what
    whoever holds the city's key can make its next package carry, signed."""
    db = Database(default_url(home))
    with db.write() as (session, state):
        append_event(session, state, "stock.written_off", payload)
    db.dispose()


def write_off_payload(label: str, holder: str, issued: int, unused: int) -> dict[str, Any]:
    code, numbers = label.split(":")
    first, last = (int(n) for n in numbers.split("-"))
    return {
        "code": code,
        "first": first,
        "last": last,
        "holder": holder,
        "issued": issued,
        "red": 0,
        "unused": unused,
    }


def refused(sender: Path, receiver: Path, package: Path, message: str) -> None:
    ok(sender, "transmit", "export", "-o", str(package))
    before = stored(receiver)
    result = receipts(receiver, "transmit", "import", str(package))
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert stored(receiver) == before


def test_a_write_off_of_a_segment_held_by_another_city_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, county, prov = tiers["640100"], tiers["640104"], tiers["640000"]
    issue(city)
    theirs = segment_of(county)
    # Naming the other city as holder, then naming itself over the other city's numbers.
    forge_write_off(city, write_off_payload(theirs, "640104", 0, 10))
    refused(city, prov, tmp_path / "a.zip", "writes off a segment of 640104")
    assert stock_at(prov, theirs)["status"] == "open"


def test_a_write_off_of_numbers_held_by_another_city_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, county, prov = tiers["640100"], tiers["640104"], tiers["640000"]
    theirs = segment_of(county)
    forge_write_off(city, write_off_payload(theirs, "640100", 0, 10))
    refused(city, prov, tmp_path / "a.zip", f"no segment {theirs} allocated to 640100 by 640000")
    assert stock_at(prov, theirs)["status"] == "open"


def test_a_write_off_of_a_segment_this_province_never_allocated_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, prov = tiers["640100"], tiers["640000"]
    code = segment_of(city).split(":")[0]
    unknown = f"{code}:900-999"
    forge_write_off(city, write_off_payload(unknown, "640100", 0, 100))
    refused(city, prov, tmp_path / "a.zip", f"no segment {unknown} allocated to 640100 by 640000")


def test_a_write_off_voiding_numbers_issued_in_the_same_package_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, prov = tiers["640100"], tiers["640000"]
    label = segment_of(city)
    issue(city)
    issue(city)
    forge_write_off(city, write_off_payload(label, "640100", 0, 10))
    refused(city, prov, tmp_path / "a.zip", f"{label} states 0 issued, 0 red, 10 unused")
    assert stock_at(prov, label)["status"] == "open"


def test_a_write_off_voiding_numbers_the_province_holds_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    city, prov = tiers["640100"], tiers["640000"]
    label = segment_of(city)
    issue(city)
    issue(city)
    send(city, prov, tmp_path / "c1.zip")
    issue(city)
    # Only the receipt in this package is counted: the two the province already holds are not.
    forge_write_off(city, write_off_payload(label, "640100", 1, 9))
    refused(city, prov, tmp_path / "a.zip", f"{label} states 1 issued, 0 red, 9 unused")
    assert stock_at(prov, label)["status"] == "open"


def test_a_malformed_write_off_event_is_refused(tiers: dict[str, Path], tmp_path: Path) -> None:
    city, prov = tiers["640100"], tiers["640000"]
    payload = write_off_payload(segment_of(city), "640100", 0, 10)
    payload["first"] = "1"
    forge_write_off(city, payload)
    refused(city, prov, tmp_path / "a.zip", "stock.written_off event")


def test_a_receipt_in_a_number_written_off_is_refused(
    tiers: dict[str, Path], tmp_path: Path
) -> None:
    """The city reopens its own written-off segment behind the product's back and issues from
    it: the province, where the segment is closed, refuses the receipt."""
    city, prov = tiers["640100"], tiers["640000"]
    label = segment_of(city)
    issue(city)
    ok(city, "stock", "write-off", label)
    send(city, prov, tmp_path / "c1.zip")
    db = Database(default_url(city))
    with db.write() as (session, _):
        session.execute(update(Segment).values(written_off_at=None))
    db.dispose()
    issue(city)
    code = label.split(":")[0]
    refused(
        city,
        prov,
        tmp_path / "a.zip",
        f"receipt {code}-0000000002 lies in segment {label}, which 640100 wrote off",
    )


# --- the province's ledger on each back end ------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def province_db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The province's ledger URL: its workspace's SQLite file (None) or a PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    schemas: PgSchemas = request.getfixturevalue("pg_schemas")
    url = schemas.new()
    db = Database(url)
    initialise(db, "640000")
    db.dispose()
    return url


def test_write_off_on_each_back_end(province_db: str | None, tmp_path: Path) -> None:
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")

    def at_prov(*args: str) -> Any:
        result = receipts(prov, "--json", *args, db=province_db)
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    at_prov("org", "add", "--code", "640100")
    alloc = tmp_path / "alloc.xml"
    at_prov("stock", "allocate", "--to", "640100", "--count", "10", "-o", str(alloc))
    ok(city, "stock", "import", str(alloc))
    label = segment_of(city)
    issue(city)
    issue(city)
    ok(city, "stock", "write-off", label)
    ok(city, "transmit", "export", "-o", str(tmp_path / "c1.zip"))
    good = receipts(prov, "transmit", "import", str(tmp_path / "c1.zip"), db=province_db)
    assert good.exit_code == 0, good.output
    ok(city, "transmit", "ack", str(tmp_path / "c1.ack.xml"))
    [segment] = at_prov("stock", "list")
    assert (segment["used"], segment["free"], segment["status"]) == (2, 0, "written off")
    [line] = at_prov("reconcile", "stock")["lines"]
    assert (line["status"], line["issued"], line["unused"]) == ("written off", 2, 8)
    assert receipts(prov, "audit", db=province_db).exit_code == 0

    second = tmp_path / "alloc-2.xml"
    at_prov("stock", "allocate", "--to", "640100", "--count", "10", "-o", str(second))
    ok(city, "stock", "import", str(second))
    issue(city)
    next_label = f"{label.split(':')[0]}:11-20"
    forge_write_off(city, write_off_payload(next_label, "640100", 0, 10))
    ok(city, "transmit", "export", "-o", str(tmp_path / "forged.zip"))
    transmissions = at_prov("transmit", "list")
    bad = receipts(prov, "transmit", "import", str(tmp_path / "forged.zip"), db=province_db)
    assert bad.exit_code == 1 and f"{next_label} states 0 issued" in bad.stderr, bad.output
    assert [s["status"] for s in at_prov("stock", "list")] == ["written off", "open"]
    assert at_prov("transmit", "list") == transmissions
