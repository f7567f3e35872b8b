"""Settlement statements travel with transmission (docs/settlement.md, "Statements"), on SQLite
and PostgreSQL: a city's statement reaches the province in a package file (``transmit export``
/ ``transmit import``) and pushed to the province's node (``transmit push``), imported as
``settle import`` does and only once; a package whose statement was changed is refused whole."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.ledger.models import ReceiptRow, SettlementStatementRow
from tests.support.postgres import PgSchemas, pg_url_or_skip
from tests.support.tier_node import Tiers, serve_thread, tiers
from tests.support.workspaces import ENV

PROVINCE, CITY = "640000", "640100"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tiers]:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    schemas = PgSchemas(pg_url_or_skip()) if request.param == "postgresql" else None
    dbs = {org: schemas.new() for org in (PROVINCE, CITY, "640104")} if schemas else {}
    try:
        t = tiers(tmp_path, dbs, registered=(CITY,))
        t.issue(CITY, "银川甲", "100.00")
        yield t
    finally:
        if schemas is not None:
            schemas.drop_all()


def _period(t: Tiers) -> str:
    db = t.database(CITY)
    try:
        with db.read() as session:
            return session.scalars(select(ReceiptRow.period)).one()
    finally:
        db.dispose()


def _imported(t: Tiers) -> int:
    db = t.database(PROVINCE)
    try:
        with db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(SettlementStatementRow)
                    .where(SettlementStatementRow.direction == "in")
                )
                or 0
            )
    finally:
        db.dispose()


def _reconciles(t: Tiers, period: str) -> None:
    clean = t.run(PROVINCE, "settle", "reconcile", "--period", period, "--from", CITY)
    assert clean.exit_code == 0, clean.output


def test_a_statement_reaches_the_province_in_a_package_file(world: Tiers, tmp_path: Path) -> None:
    period = _period(world)
    statement = tmp_path / "city.xml"
    world.ok(CITY, "settle", "statement", "--period", period, "-o", str(statement))
    package = tmp_path / "city.zip"
    world.ok(CITY, "transmit", "export", "-o", str(package))

    # A statement changed in the package: refused whole, nothing imported.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(forged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("settlements/"):
                data = data.replace(b'upward="', b'upward="1')
            dst.writestr(name, data)
    refused = world.run(PROVINCE, "transmit", "import", str(forged))
    assert refused.exit_code != 0 and "settlements/" in refused.output, refused.output
    assert _imported(world) == 0

    answer = json.loads(world.ok(PROVINCE, "--json", "transmit", "import", str(package)))
    assert (answer["added"], answer["statements"]) == (1, 1)
    assert _imported(world) == 1
    _reconciles(world, period)
    # The same package and the same file by hand import nothing twice.
    again = json.loads(world.ok(PROVINCE, "--json", "transmit", "import", str(package)))
    assert not again["new"] and again["statements"] == 0
    world.ok(PROVINCE, "settle", "import", str(statement))
    assert _imported(world) == 1
    # A later package does not carry the statement again (its event was acknowledged).
    world.ok(CITY, "transmit", "ack", answer["ack"])
    world.issue(CITY, "银川乙", "20.00")
    later = tmp_path / "later.zip"
    world.ok(CITY, "transmit", "export", "-o", str(later))
    assert not any(n.startswith("settlements/") for n in zipfile.ZipFile(later).namelist())
    for org in (CITY, PROVINCE):
        assert world.run(org, "audit").exit_code == 0, org


def test_a_statement_reaches_the_province_pushed_to_its_node(world: Tiers, tmp_path: Path) -> None:
    period = _period(world)
    world.ok(CITY, "settle", "statement", "--period", period, "-o", str(tmp_path / "s.xml"))
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        pushed = json.loads(world.ok(CITY, "--json", "transmit", "push", url))
        assert pushed["receipts"] == 1
        assert world.ok(CITY, "transmit", "push", url).startswith("nothing to push")
    assert _imported(world) == 1
    _reconciles(world, period)
    for org in (CITY, PROVINCE):
        assert world.run(org, "audit").exit_code == 0, org


def test_zip_members_are_named_by_digest(world: Tiers, tmp_path: Path) -> None:
    world.ok(CITY, "settle", "statement", "--period", _period(world), "-o", str(tmp_path / "s.xml"))
    package = tmp_path / "p.zip"
    world.ok(CITY, "transmit", "export", "-o", str(package))
    names = zipfile.ZipFile(io.BytesIO(package.read_bytes())).namelist()
    statements = [n for n in names if n.startswith("settlements/")]
    assert len(statements) == 1 and len(statements[0]) == len("settlements/") + 64 + 4
