"""A push streams to disk (issue 19: national-scale packages with bounded memory): the node writes
the body to a 0600 file under the workspace's ``incoming/``, checks its signed SHA-256, its size
and its sender, imports it from the file, and removes the file however the request ends (imported,
413, 401, 403, 422, the client gone, a file left by a killed worker); the client hashes a package
file in one pass and streams it in the next. The push limit follows ``[transmission]``."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from receipts.commands.demo_files import batch_csv
from receipts.errors import InvalidInput
from receipts.node import tier
from receipts.node.config import load_serve_config
from receipts.node.state import NodeState
from receipts.transmission import request_signing as rs
from receipts.transmission.http_client import PACKAGES_PATH, Retry, TierClient
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.receive import import_package
from receipts.workspace import Workspace
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
from tests.support.workspaces import ENV

PROVINCE, CITY, COUNTY = "640000", "640100", "640104"
_OLD_SPOOL = 8 * 1024 * 1024
"""The in-memory spool the node used to read a push into before it read it whole."""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tiers:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    t = tiers(tmp_path, {}, registered=(CITY,))
    t.issue(CITY, "银川甲", "100.00")
    t.issue(CITY, "银川乙", "20.50")
    return t


def signed(body: bytes, org: str = CITY) -> dict[str, str]:
    return dict(rs.sign_request(tier_pki().signers[org], PROVINCE, "POST", PACKAGES_PATH, "", body))


def incoming(t: Tiers) -> list[str]:
    """What is left in the province's ``incoming/`` (nothing, once every push has ended)."""
    folder = t.homes[PROVINCE] / tier.INCOMING
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def client_for(t: Tiers, max_push: int | None = None) -> TestClient:
    app = node_app(t.homes[PROVINCE], t.dbs.get(PROVINCE))
    if max_push is not None:
        state: NodeState = app.state.node
        state.config = dataclasses.replace(state.config, max_push_bytes=max_push)
    return TestClient(app)


def problem(response: Any, status: int, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert phrase in response.json()["detail"], response.json()


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A body sent chunked, without a Content-Length: only the node's own count stops it."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_push_is_imported_from_a_private_file_that_is_then_removed(
    world: Tiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[object, int, int, bool]] = []

    def spy(db: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        mode = stat.S_IMODE(os.stat(source).st_mode)
        folder = stat.S_IMODE(os.stat(Path(source).parent).st_mode)
        seen.append((source, mode, folder, kwargs.get("settings") is not None))
        return import_package(db, source, *args, **kwargs)

    monkeypatch.setattr(tier, "import_package", spy)
    package = package_of(world, CITY)
    with client_for(world) as client:
        response = client.post(PACKAGES_PATH, content=chunks(package), headers=signed(package))
    assert response.status_code == 200, response.text
    assert receipt_count(world, PROVINCE) == 2
    [(source, mode, folder, with_settings)] = seen
    # A file under the workspace, not bytes in memory; [transmission]'s settings passed on.
    assert isinstance(source, Path) and source.parent == world.homes[PROVINCE] / tier.INCOMING
    assert (mode, folder, with_settings) == (0o600, 0o700, True)
    assert incoming(world) == []


def test_an_oversized_body_is_413_and_leaves_no_file(world: Tiers) -> None:
    package = package_of(world, CITY)
    with client_for(world, max_push=len(package) - 1) as client:
        declared = client.post(PACKAGES_PATH, content=package, headers=signed(package))
        streamed = client.post(PACKAGES_PATH, content=chunks(package), headers=signed(package))
    limit = f"larger than {len(package) - 1:,} bytes"
    problem(declared, 413, limit)
    problem(streamed, 413, limit)
    assert incoming(world) == [] and receipt_count(world, PROVINCE) == 0


def test_a_body_the_signature_does_not_cover_is_401_and_leaves_nothing(world: Tiers) -> None:
    package = package_of(world, CITY)
    with client_for(world) as client:
        swapped = client.post(
            PACKAGES_PATH, content=chunks(package + b"x"), headers=signed(package)
        )
    problem(swapped, 401, "not the one the request's signature covers")
    assert incoming(world) == [] and receipt_count(world, PROVINCE) == 0


def test_a_refused_package_leaves_no_file(world: Tiers, tmp_path: Path) -> None:
    tampered = bytearray(package_of(world, CITY))
    tampered[len(tampered) // 2] ^= 0x01
    register(world, COUNTY, tmp_path)
    world.issue(COUNTY, "兴庆区甲", "7.00")
    siblings = package_of(world, COUNTY)
    with client_for(world) as client:
        body = bytes(tampered)
        problem(client.post(PACKAGES_PATH, content=body, headers=signed(body)), 422, "")
        assert incoming(world) == []
        # Another child's package, pushed by this one: its sender is checked from the file.
        theirs = client.post(PACKAGES_PATH, content=siblings, headers=signed(siblings))
        problem(theirs, 403, "is 640104's, not its own")
    assert incoming(world) == [] and receipt_count(world, PROVINCE) == 0


def test_a_client_gone_mid_body_leaves_no_file(world: Tiers) -> None:
    package = package_of(world, CITY)
    with serve_thread(world.homes[PROVINCE], world.dbs.get(PROVINCE)) as url:
        parts = urlsplit(url)
        head = [f"POST {PACKAGES_PATH} HTTP/1.1", f"Host: {parts.netloc}"]
        head += [f"{k}: {v}" for k, v in signed(package).items()]
        head += ["Content-Type: application/zip", f"Content-Length: {len(package)}", "", ""]
        assert parts.hostname is not None and parts.port is not None
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall("\r\n".join(head).encode("ascii") + package[: len(package) // 2])
            deadline = time.monotonic() + 10
            while not incoming(world) and time.monotonic() < deadline:
                time.sleep(0.02)  # the half body is on disk...
            assert len(incoming(world)) == 1
        deadline = time.monotonic() + 10
        while incoming(world) and time.monotonic() < deadline:
            time.sleep(0.02)  # ...and gone once the connection closed
        assert incoming(world) == []
    assert receipt_count(world, PROVINCE) == 0


def test_a_file_left_by_a_killed_worker_is_swept_but_one_in_use_is_not(world: Tiers) -> None:
    folder = world.homes[PROVINCE] / tier.INCOMING
    folder.mkdir(mode=0o700)
    abandoned, fresh, in_use = (folder / f"push-{n}.zip" for n in ("dead", "new", "busy"))
    for path in (abandoned, fresh, in_use):
        path.write_bytes(b"part of a body")
    old = time.time() - 3600
    os.utime(abandoned, (old, old))
    os.utime(in_use, (old, old))
    package = package_of(world, CITY)
    with in_use.open("rb") as handle:
        assert tier._lock(handle, blocking=False)  # another worker is importing it
        with client_for(world) as client:
            response = client.post(PACKAGES_PATH, content=package, headers=signed(package))
        assert response.status_code == 200, response.text
        assert incoming(world) == ["push-busy.zip", "push-new.zip"]


def test_the_client_streams_a_package_file(world: Tiers, tmp_path: Path) -> None:
    package = tmp_path / "city.zip"
    package.write_bytes(package_of(world, CITY))
    sent: list[tuple[httpx.Request, bool]] = []

    class Node(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            # Looked at before anything reads it: bytes in memory, or read from the file.
            held = isinstance(request.stream, httpx.ByteStream)
            sent.append((request, held))
            body = b"".join(request.stream)  # type: ignore[arg-type]
            assert hashlib.sha256(body).hexdigest() == request.headers[rs.CONTENT_SHA256]
            assert body == package.read_bytes()
            return httpx.Response(503 if len(sent) == 1 else 200, content=b"ack")

    client = TierClient(
        "http://node.invalid",
        tier_pki().signers[CITY],
        PROVINCE,
        retry=Retry(total=10, first_delay=0, sleep=lambda _s: None),
        transport=Node(),
    )
    assert client.push(package) == b"ack" and client.attempts == 2
    for request, held in sent:  # each attempt streamed from the file, none held in memory
        assert not held
        assert request.headers["content-length"] == str(package.stat().st_size)
    assert sent[0][0].headers[rs.NONCE] != sent[1][0].headers[rs.NONCE]


@pytest.mark.slow
def test_a_package_larger_than_the_old_spool_is_pushed_and_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    t = tiers(tmp_path, {}, registered=())
    t.ok(PROVINCE, "org", "add", "--code", CITY)
    n = 3_300  # ~2.8 KB a receipt in the zip: past the old 8 MiB spool
    alloc = tmp_path / "alloc.xml"
    t.ok(PROVINCE, "stock", "allocate", "--to", CITY, "--count", str(n), "-o", str(alloc))
    t.ok(CITY, "stock", "import", str(alloc))
    batch = tmp_path / "batch.csv"
    batch.write_text(batch_csv(n, 1, "S-"), encoding="utf-8")
    t.ok(CITY, "issue", "--batch", str(batch))
    package = tmp_path / "city.zip"
    t.ok(CITY, "transmit", "export", "-o", str(package))
    assert package.stat().st_size > _OLD_SPOOL
    with serve_thread(t.homes[PROVINCE]) as url:  # uvicorn: the body arrives in many reads
        # The answer waits for the import (minutes under load): the call's time, not 60 s.
        t.ok(CITY, "transmit", "push", url, "--package", str(package), "--timeout", "1800")
    assert receipt_count(t, PROVINCE) == n
    assert incoming(t) == []


def test_the_push_limit_follows_transmission(world: Tiers) -> None:
    home = world.homes[PROVINCE]
    config = home / "receipts.toml"
    text = config.read_text("utf-8")
    assert load_serve_config(Workspace.open(home)).max_push_bytes == (
        ImportSettings().max_file_bytes
    )
    config.write_text(text + "\n[transmission]\nmax_receipts = 5000\n", "utf-8")
    assert load_serve_config(Workspace.open(home)).max_push_bytes == (
        ImportSettings(max_receipts=5000).max_file_bytes
    )
    config.write_text(text + "\n[transmission]\nmax_receipts = 0\n", "utf-8")
    with pytest.raises(InvalidInput, match="max_receipts"):
        load_serve_config(Workspace.open(home))
