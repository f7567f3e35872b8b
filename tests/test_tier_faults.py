"""Faults between the tiers (issue 16, item 4 and 5): the node killed (SIGKILL) during a push, the
connection dropped mid-body, the same push sent twice, an answer lost, a tampered package, the
node down while the client retries. Afterwards both ledgers audit clean and reconcile with no
differences: nothing lost, nothing twice. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from receipts.ledger.models import ReceiptRow, Transmission
from receipts.transmission import request_signing as rs
from receipts.transmission.export import export_package
from receipts.transmission.http_client import PACKAGES_PATH, NetworkFailure, Retry, TierClient
from tests.support.postgres import PgSchemas, pg_url_or_skip
from tests.support.tier_node import Tiers, free_port, serve_process, serve_thread, tiers
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV

PROVINCE, CITY = "640000", "640100"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tiers]:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    schemas = PgSchemas(pg_url_or_skip()) if request.param == "postgresql" else None
    try:
        dbs = {org: schemas.new() for org in (PROVINCE, CITY)} if schemas else {}
        t = tiers(tmp_path, dbs, registered=(CITY,))
        for n in range(6):
            t.issue(CITY, f"银川企业{n}", f"{10 + n}.00")
        yield t
    finally:
        if schemas is not None:
            schemas.drop_all()


def count(t: Tiers, org: str, table: type = ReceiptRow) -> int:
    db = t.database(org)
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        db.dispose()


def fresh_package(t: Tiers) -> bytes:
    db = t.database(CITY)
    try:
        package, _ = export_package(db, tier_pki().signers[CITY], PROVINCE)
    finally:
        db.dispose()
    return package


def raw_push(url: str, body: bytes, send: int, *, read: bool = False) -> bytes:
    """A signed push written by hand: its headers and the first ``send`` bytes of the body,
    then the connection closed (with ``read``, after reading the answer)."""
    headers = rs.sign_request(tier_pki().signers[CITY], PROVINCE, "POST", PACKAGES_PATH, "", body)
    parts = urlsplit(url)
    head = [f"POST {PACKAGES_PATH} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += ["Content-Type: application/zip", f"Content-Length: {len(body)}", "", ""]
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall("\r\n".join(head).encode("ascii") + body[:send])
        return sock.recv(65536) if read else b""


def settled(t: Tiers, url: str) -> None:
    """Both ledgers audit clean and agree, and the province holds each receipt once."""
    report = json.loads(t.ok(CITY, "--json", "reconcile", "tiers", "--with", url))
    assert report["agree"] and report["findings"] == [], report
    for org in (CITY, PROVINCE):
        audit = t.run(org, "audit")
        assert audit.exit_code == 0, (org, audit.output)
    assert count(t, PROVINCE) == count(t, CITY) == 6


def test_the_node_killed_during_a_push(world: Tiers) -> None:
    home, db = world.homes[PROVINCE], world.dbs.get(PROVINCE)
    package = fresh_package(world)
    with serve_process(home, db) as (proc, url):
        raw_push(url, package, len(package) // 2)  # half the body is in
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert count(world, PROVINCE) == 0
    for delay in (0.0, 0.05, 0.15):  # all of it in; killed as it checks, imports, answers
        with serve_process(home, db) as (proc, url):
            raw_push(url, package, len(package))
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert count(world, PROVINCE) in (0, 6)  # all or nothing
    with serve_process(home, db) as (_, url):
        out = world.ok(CITY, "transmit", "push", url)
        assert "acknowledged" in out
        settled(world, url)


def test_the_connection_dropped_mid_body_then_pushed_again(world: Tiers) -> None:
    package = fresh_package(world)
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        for cut in (0, 100, len(package) - 1):
            raw_push(url, package, cut)
        time.sleep(0.2)
        assert count(world, PROVINCE) == 0
        assert count(world, PROVINCE, Transmission) == 0
        world.ok(CITY, "transmit", "push", url)
        settled(world, url)


def test_an_answer_lost_and_the_same_push_twice(world: Tiers, tmp_path: Path) -> None:
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        # The province imports, the answer never reaches the city.
        answer = raw_push(url, fresh_package(world), 10**9, read=True)
        assert answer.startswith(b"HTTP/1.1 200")
        assert count(world, PROVINCE) == 6
        # The next sync exports again (overlapping) and records the acknowledgement.
        world.configure_upstream(CITY, url)
        report = json.loads(world.ok(CITY, "sync", "--json"))
        assert report["ok"] and report["push"]["receipts"] == 6
        # A package file pushed twice: one import, the same acknowledgement recorded once.
        world.issue(CITY, "银川企业末", "1.00")
        package = tmp_path / "p.zip"
        world.ok(CITY, "transmit", "export", "-o", str(package))
        first = world.ok(CITY, "transmit", "push", "--package", str(package))
        second = world.ok(CITY, "transmit", "push", "--package", str(package))
        assert first.endswith("acknowledged\n") and "(already recorded)" in second
        assert count(world, PROVINCE) == count(world, CITY) == 7
        for org in (CITY, PROVINCE):
            assert world.run(org, "audit").exit_code == 0
        report = json.loads(world.ok(CITY, "--json", "reconcile", "tiers", "--with", url))
        assert report["agree"]


def test_a_tampered_package_over_http_changes_nothing(world: Tiers, tmp_path: Path) -> None:
    package = bytearray(fresh_package(world))
    package[-200] ^= 0xFF
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(bytes(package))
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        refused = world.run(CITY, "transmit", "push", url, "--package", str(tampered))
        assert refused.exit_code in (1, 2), refused.output
        assert count(world, PROVINCE) == 0
        world.ok(CITY, "transmit", "push", url)
        settled(world, url)


def test_the_client_retries_until_the_node_is_up(world: Tiers) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    down = world.run(CITY, "sync", "--url", url, "--timeout", "1")
    assert down.exit_code == 3 and "nothing was lost" in down.stderr
    assert count(world, PROVINCE) == 0
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as up:
        world.ok(CITY, "sync", "--url", up)
        settled(world, up)


def test_backoff_doubles_and_the_time_is_bounded() -> None:
    calls: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        clock[0] += seconds

    def failing(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    retry = Retry(total=10, first_delay=1, max_delay=4, sleep=sleep, clock=lambda: clock[0])
    client = TierClient(
        "http://node.invalid",
        tier_pki().signers[CITY],
        PROVINCE,
        retry=retry,
        transport=httpx.MockTransport(failing),
    )
    with pytest.raises(NetworkFailure) as caught:
        client.push(b"zip")
    assert caught.value.exit_code == 3
    assert [round(c / n) for c, n in zip(calls, (1, 2, 4, 4), strict=False)] == [1] * len(calls)
    assert sum(calls) <= 10 and client.attempts == len(calls) + 1 >= 3

    answers = iter([503, 502, 200])

    def flaky(request: httpx.Request) -> httpx.Response:
        assert request.headers[rs.NONCE]  # signed afresh for every attempt
        return httpx.Response(next(answers), content=b"ack")

    client = TierClient(
        "http://node.invalid",
        tier_pki().signers[CITY],
        PROVINCE,
        retry=retry,
        transport=httpx.MockTransport(flaky),
    )
    assert client.push(b"zip") == b"ack" and client.attempts == 3
