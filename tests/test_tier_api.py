"""The tier API (issue 16, item 4): signed requests only; a forged, replayed, stale, re-bodied,
misaddressed, unregistered or foreign-CA request is refused with the right status and a JSON
problem (never a 500); a package pushed twice imports once and gets the same acknowledgement;
push, sync and reconciliation over HTTP from the command line. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from receipts.domain.divisions import upstream_of
from receipts.ledger.models import ReceiptRow, RequestNonce
from receipts.node.config import load_serve_config
from receipts.node.state import NodeState
from receipts.pki.signer import ReceiptSigner
from receipts.transmission import request_signing as rs
from receipts.transmission.http_client import PACKAGES_PATH, SUMMARY_PATH
from receipts.workspace import Workspace
from signing.certificates import CertificateRole, create_csr, issue_certificate
from signing.keys import generate_key
from tests.support.postgres import PgSchemas, pg_url_or_skip
from tests.support.tier_node import (
    Tiers,
    node_app,
    package_of,
    receipt_count,
    register,
    serve_thread,
    tiers,
)
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation

PROVINCE, CITY, COUNTY = "640000", "640100", "640104"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str | None]]:
    """Ledger URLs per org: every ledger on PostgreSQL, or each in its SQLite file."""
    if request.param == "sqlite":
        yield {}
        return
    schemas = PgSchemas(pg_url_or_skip())
    try:
        yield {org: schemas.new() for org in (PROVINCE, CITY, COUNTY)}
    finally:
        schemas.drop_all()


@pytest.fixture
def world(tmp_path: Path, backend: dict[str, str | None], monkeypatch: pytest.MonkeyPatch) -> Tiers:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    t = tiers(tmp_path, backend, registered=(CITY,))
    t.issue(CITY, "银川甲", "100.00")
    t.issue(CITY, "银川乙", "20.50")
    return t


def client_for(t: Tiers, max_push: int | None = None) -> TestClient:
    app = node_app(t.homes[PROVINCE], t.dbs.get(PROVINCE))
    if max_push is not None:
        state: NodeState = app.state.node
        state.config = dataclasses.replace(state.config, max_push_bytes=max_push)
    return TestClient(app)


def signed(
    signer: ReceiptSigner,
    body: bytes,
    path: str = PACKAGES_PATH,
    query: str = "",
    *,
    to: str = PROVINCE,
    now: datetime | None = None,
) -> dict[str, str]:
    return dict(rs.sign_request(signer, to, "POST", path, query, body, now=now))


def refused(response: Any, status: int, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert phrase in problem["detail"], problem


def test_a_push_imports_once_and_answers_the_same_acknowledgement(world: Tiers) -> None:
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        first = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
        again = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
    assert first.status_code == again.status_code == 200, first.text
    assert first.headers["content-type"] == "application/xml"
    assert (first.headers["receipts-imported"], again.headers["receipts-imported"]) == (
        "new",
        "already",
    )
    assert first.content == again.content  # the stored acknowledgement, byte for byte
    assert receipt_count(world, PROVINCE) == 2


def test_unsigned_forged_and_misaddressed_requests_are_refused(world: Tiers) -> None:
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        refused(client.post(PACKAGES_PATH, content=package), 401, "Receipts-Org")
        forged = signed(city, package) | {rs.SIGNATURE: signed(city, b"other")[rs.SIGNATURE]}
        refused(client.post(PACKAGES_PATH, content=package, headers=forged), 401, "signature")
        elsewhere = signed(city, package, to="650000")
        refused(client.post(PACKAGES_PATH, content=package, headers=elsewhere), 401, "signed for")
        # A child speaking as its sibling: its own certificate, the sibling's name.
        posing = signed(city, package) | {rs.ORG: COUNTY}
        refused(client.post(PACKAGES_PATH, content=package, headers=posing), 401, "issued to")
    assert receipt_count(world, PROVINCE) == 0


def test_a_replayed_or_stale_request_is_refused(world: Tiers) -> None:
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    headers = signed(city, package)
    db = world.database(PROVINCE)
    with db.engine.begin() as conn:  # a nonce seen an hour ago is purged by the next request
        old = datetime.now(UTC) - timedelta(hours=1)
        conn.execute(insert(RequestNonce).values(org_code=CITY, nonce="0" * 32, seen_at=old))
    db.dispose()
    with client_for(world) as client:
        assert client.post(PACKAGES_PATH, content=package, headers=headers).status_code == 200
        replay = client.post(PACKAGES_PATH, content=package, headers=headers)
        refused(replay, 401, "replayed request")
        for skew in (timedelta(seconds=-302), timedelta(seconds=302)):  # 1 s lost to rounding
            stale = signed(city, package, now=datetime.now(UTC) + skew)
            refused(client.post(PACKAGES_PATH, content=package, headers=stale), 401, "clocks")
    db = world.database(PROVINCE)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RequestNonce)) == 1
    db.dispose()


def test_a_body_swapped_under_a_valid_signature_is_refused(world: Tiers) -> None:
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        swapped = client.post(PACKAGES_PATH, content=package + b"x", headers=signed(city, package))
    refused(swapped, 401, "not the one the request's signature covers")
    assert receipt_count(world, PROVINCE) == 0


def test_an_unregistered_federation_with_a_valid_certificate_is_refused(world: Tiers) -> None:
    package = package_of(world, CITY)
    county = tier_pki().signers[COUNTY]  # certified by 宁夏's CA, but never 'org add'ed there
    with client_for(world) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(county, package))
        refused(response, 403, "neither this node's parent nor a child registered here")
        # The parent is registered, but does not push downwards.
        nation = tier_pki().signers["000000"]
        down = client.post(PACKAGES_PATH, content=b"", headers=signed(nation, b""))
        refused(down, 403, "is this node's parent: only children push")
    assert receipt_count(world, PROVINCE) == 0


def test_a_child_pushing_its_siblings_package_is_refused(world: Tiers, tmp_path: Path) -> None:
    register(world, COUNTY, tmp_path)
    world.issue(COUNTY, "兴庆区甲", "7.00")
    package = package_of(world, COUNTY)
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
    refused(response, 403, "is 640104's, not its own")
    assert receipt_count(world, PROVINCE) == 0


def test_another_provinces_ca_is_refused(world: Tiers) -> None:
    pki = tier_pki()
    start = datetime.now(UTC) - timedelta(days=1)
    ca_key, key = generate_key(), generate_key()
    other_ca = issue_certificate(
        pki.root,
        pki.root_key,
        create_csr(ca_key, "650000", "新疆维吾尔自治区总工会", CertificateRole.PROVINCIAL_CA),
        CertificateRole.PROVINCIAL_CA,
        requester_upstream=upstream_of("650000"),
        now=start,
    )
    # 新疆's CA, trusted for 新疆, certifies a key as 银川's.
    fake = issue_certificate(
        other_ca,
        ca_key,
        create_csr(key, CITY, "银川市总工会", CertificateRole.SIGNING),
        CertificateRole.SIGNING,
        requester_upstream="650000",
        now=start,
    )
    impostor = ReceiptSigner(key, fake, (other_ca,))
    package = package_of(world, CITY)
    with client_for(world) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(impostor, package))
    refused(response, 401, "certificate-outside-tier")
    assert receipt_count(world, PROVINCE) == 0


def test_an_oversized_body_is_refused(world: Tiers) -> None:
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    with client_for(world, max_push=1000) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
    refused(response, 413, "larger than 1,000 bytes")
    assert receipt_count(world, PROVINCE) == 0


def test_a_tampered_package_is_refused_whole(world: Tiers) -> None:
    package = bytearray(package_of(world, CITY))
    package[len(package) // 2] ^= 0x01
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        body = bytes(package)
        response = client.post(PACKAGES_PATH, content=body, headers=signed(city, body))
    refused(response, 422, "")
    assert receipt_count(world, PROVINCE) == 0


def test_a_child_may_summarise_only_itself(world: Tiers) -> None:
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        own = client.post(
            SUMMARY_PATH + "?issuer=640100",
            headers=signed(city, b"", SUMMARY_PATH, "issuer=640100"),
        )
        other = client.post(
            SUMMARY_PATH + "?issuer=640104",
            headers=signed(city, b"", SUMMARY_PATH, "issuer=640104"),
        )
    assert own.status_code == 200 and b"<" in own.content
    refused(other, 403, "may not ask for the summary of 640104")


def test_push_sync_and_reconcile_from_the_command_line(world: Tiers) -> None:
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        pushed = json.loads(world.ok(CITY, "--json", "transmit", "push", url))
        assert (pushed["receipts"], pushed["events"][0]) == (2, 1)
        assert world.ok(CITY, "transmit", "push", url).startswith("nothing to push")
        world.issue(CITY, "银川丙", "3.00")
        world.configure_upstream(CITY, url)
        report = json.loads(world.ok(CITY, "sync", "--json"))
        assert report["ok"] and report["push"]["receipts"] == 1
        assert report["reconcile"]["agree"] and report["reconcile"]["findings"] == []
        again = json.loads(world.ok(CITY, "--json", "reconcile", "tiers", "--with", url))
        assert again["agree"] and again["org"] == PROVINCE
        unregistered = world.run(COUNTY, "sync", "--url", url)
        assert unregistered.exit_code == 2
        assert "(403)" in unregistered.stderr and "registered" in unregistered.stderr
    for org in (CITY, PROVINCE):
        assert world.run(org, "audit").exit_code == 0
    assert receipt_count(world, PROVINCE) == 3


def test_sync_reports_a_difference_with_exit_1(world: Tiers) -> None:
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        world.ok(CITY, "transmit", "push", url)
        # The province's ledger loses a receipt behind everyone's back.
        db = world.database(PROVINCE)
        with db.write() as (session, _):
            row = session.scalars(select(ReceiptRow).order_by(ReceiptRow.number)).first()
            assert row is not None
            session.delete(row)
        db.dispose()
        result = world.run(CITY, "sync", "--url", url, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert not report["ok"]
    # Round 1 names the block that differs, round 2 the receipt the province lacks.
    kinds = [f["kind"] for f in report["reconcile"]["findings"]]
    assert kinds == ["block-differs", "extra"], kinds
    assert report["reconcile"]["rounds"] == 2


def test_the_node_url_comes_from_the_configuration(world: Tiers, tmp_path: Path) -> None:
    none = world.run(CITY, "sync")
    assert none.exit_code == 2 and "[upstream] url" in none.stderr
    world.configure_upstream(CITY, "ftp://example.cn")
    bad = world.run(CITY, "sync")
    assert bad.exit_code == 2 and "http:// or https://" in bad.stderr
    assert load_serve_config(Workspace.open(world.homes[CITY])) is not None


def test_a_province_forwards_upward_the_same_way(world: Tiers, tmp_path: Path) -> None:
    nation = tmp_path / "000000"
    federation(nation, "000000")
    world.homes["000000"] = nation
    world.ok("000000", "org", "add", "--code", PROVINCE)
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as province_url:
        world.ok(CITY, "sync", "--url", province_url)
    with serve_thread(nation) as national_url:
        report = json.loads(world.ok(PROVINCE, "sync", "--url", national_url, "--json"))
        assert report["ok"] and report["push"]["receipts"] == 2
        assert report["reconcile"]["issuers"] == [PROVINCE, CITY]
    assert receipt_count(world, "000000") == 2
    assert world.run("000000", "audit").exit_code == 0


def test_a_file_imported_twice_gets_the_same_acknowledgement(world: Tiers, tmp_path: Path) -> None:
    package = tmp_path / "city.zip"
    package.write_bytes(package_of(world, CITY))
    world.ok(PROVINCE, "transmit", "import", str(package), "-o", str(tmp_path / "a1.xml"))
    world.ok(PROVINCE, "transmit", "import", str(package), "-o", str(tmp_path / "a2.xml"))
    first = (tmp_path / "a1.xml").read_bytes()
    assert first == (tmp_path / "a2.xml").read_bytes()
    city = tier_pki().signers[CITY]
    body = package.read_bytes()
    with client_for(world) as client:
        pushed = client.post(PACKAGES_PATH, content=body, headers=signed(city, body))
    assert pushed.headers["receipts-imported"] == "already" and pushed.content == first


def test_a_node_without_its_key_unlocked_answers_503(
    world: Tiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = package_of(world, CITY)
    monkeypatch.delenv("RECEIPTS_KEY_PASSPHRASE")
    city = tier_pki().signers[CITY]
    with client_for(world) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
    refused(response, 503, "cannot sign its answers")
    assert receipt_count(world, PROVINCE) == 0
