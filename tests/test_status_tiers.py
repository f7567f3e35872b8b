"""Issue 15, defect 4: a receipt's status is what travels (issued, reversed) and is the same at
every tier after transmission; what is only true of one ledger (archived, booked) is shown apart
from it, as ``here``; the public look-up answers the travelling status."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database, default_url
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, request
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation, ok, receipts

PAYER_USCC = "91640100MA7600001J"


def two_months_ago() -> datetime:
    now = datetime.now(SHANGHAI)
    year, month = now.year, now.month - 2
    if month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 10, 9, 0, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """宁夏 and 银川; 银川 issued receipts 1 and 2 two months ago and archived that month."""
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    when = two_months_ago()
    for year in sorted({when.year, datetime.now(SHANGHAI).year}):
        alloc = tmp_path / f"alloc-{year}.xml"
        ok(
            prov,
            "stock",
            "allocate",
            "--to",
            "640100",
            "--count",
            "10",
            "--year",
            str(year),
            "-o",
            str(alloc),
        )
        ok(city, "stock", "import", str(alloc))
    db = Database(default_url(city))
    issued = list(
        issue_batch(
            db, make_issuer(clock=fixed_clock(when)), [request("A1", "100.00"), request("A2")]
        )
    )
    db.dispose()
    month = when.strftime("%Y-%m")
    ok(city, "period", "close", month)
    ok(city, "archive", "create", "--period", month, "-o", str(tmp_path / "a.zip"))
    return {"prov": prov, "city": city, "tmp": tmp_path, "code": issued[0].ref.code}


def shown(home: Path, code: str, number: int) -> dict[str, Any]:
    data = json.loads(ok(home, "--json", "show", code, str(number)))
    return {"status": data["status"], "here": data["here"]}


def looked_up(home: Path, code: str, number: int, check_code: str) -> str:
    return str(json.loads(ok(home, "--json", "lookup", code, str(number), check_code))["status"])


def send(sender: Path, receiver: Path, package: Path) -> None:
    ok(sender, "transmit", "export", "-o", str(package))
    ok(receiver, "transmit", "import", str(package))
    ok(sender, "transmit", "ack", str(package.with_name(package.stem + ".ack.xml")))


def test_archived_is_local_and_the_status_agrees_between_tiers(world: dict[str, Any]) -> None:
    city, prov, tmp, code = world["city"], world["prov"], world["tmp"], world["code"]
    send(city, prov, tmp / "c1.zip")
    assert shown(city, code, 2) == {"status": "issued", "here": "archived"}
    assert shown(prov, code, 2) == {"status": "issued", "here": None}
    human = ok(city, "show", code, "2").splitlines()
    assert "status: issued" in human and "here: archived" in human
    check = json.loads(ok(city, "--json", "show", code, "2"))["check_code"]
    assert looked_up(city, code, 2, check) == looked_up(prov, code, 2, check) == "issued"


def test_a_reversal_at_the_city_is_reversed_at_the_province(world: dict[str, Any]) -> None:
    city, prov, tmp, code = world["city"], world["prov"], world["tmp"], world["code"]
    send(city, prov, tmp / "c1.zip")
    assert shown(prov, code, 1) == {"status": "issued", "here": None}
    ok(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    send(city, prov, tmp / "c2.zip")
    assert shown(city, code, 1) == {"status": "reversed", "here": "archived"}
    assert shown(prov, code, 1) == {"status": "reversed", "here": None}
    check = json.loads(ok(city, "--json", "show", code, "1"))["check_code"]
    assert looked_up(city, code, 1, check) == looked_up(prov, code, 1, check) == "reversed"


def test_booked_is_local_to_the_payer(world: dict[str, Any]) -> None:
    city, tmp, code = world["city"], world["tmp"], world["code"]
    payer = tmp / "payer"
    init = ["init", "--payer", "--name", "宁夏贺兰山实业有限公司", "--uscc", PAYER_USCC]
    result = CliRunner(env=ENV).invoke(main, ["--home", str(payer), *init])
    assert result.exit_code == 0, result.output
    (tmp / "trust.pem").write_bytes(tier_pki().bundle.to_pem())
    ok(payer, "pki", "import-trust", str(tmp / "trust.pem"))
    xml = receipts(city, "show", code, "2", "--xml").stdout_bytes
    (tmp / "r2.xml").write_bytes(xml)
    ok(payer, "book", str(tmp / "r2.xml"), "--voucher", "记-0042", "--by", "王会计")
    assert shown(payer, code, 2) == {"status": "issued", "here": "booked"}
    ok(payer, "book", "--undo", code, "2", "--by", "王会计", "--reason", "测试")
    assert shown(payer, code, 2) == {"status": "issued", "here": None}
