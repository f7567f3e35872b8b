"""The time-stamp authority in the product (docs/operations.md, "Running the time-stamp
authority"): ``pki issue-tsa``, the authority on the node answering real RFC 3161 clients, and
receipts time-stamped on their way up and kept time-stamped beside the ledger."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from sqlalchemy import func, select

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import Event
from receipts.ledger.timestamp_models import ReceiptTimestampRow, TsaSerialRow
from receipts.pki.keyfile import save_key
from receipts.tsa.authority import serial_log
from receipts.tsa.config import TSA_PASSPHRASE_ENV
from signing.certificates import certificates_to_pem, load_certificates
from signing.keys import generate_key
from signing.timestamps import TokenCheck, check_token
from signing.tsa_certificate import issue_tsa_certificate
from signing.xades_t import split_signature_timestamp
from tests.support import pki_cli
from tests.support.pki_cli import Tiers
from tests.support.skips import need_tool
from tests.support.tier_node import free_port, serve_thread
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok, receipts

TSA_PASSPHRASE = "tsa passphrase for tests"
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


def _install_authority(home: Path) -> x509.Certificate:
    """The province's authority, certified by its CA (what 'pki issue-tsa' makes there)."""
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    save_key(key, home / "keys" / "tsa.key", TSA_PASSPHRASE)
    (home / "certs" / "tsa.pem").write_bytes(certificates_to_pem([cert, pki.prov_ca]))
    return cert


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv(TSA_PASSPHRASE_ENV, TSA_PASSPHRASE)
    homes = {org: tmp_path / org for org in ("640000", "640100")}
    for org, home in homes.items():
        federation(home, org)
    prov, city = homes["640000"], homes["640100"]
    ok(prov, "org", "add", "--code", "640100")
    alloc = tmp_path / "alloc.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o", str(alloc))
    ok(city, "stock", "import", str(alloc))
    _install_authority(prov)
    return homes


@pytest.fixture
def node(homes: dict[str, Path]) -> Iterator[str]:
    with serve_thread(homes["640000"]) as url:
        yield url


def _issue(home: Path, payer: str, amount: str) -> None:
    ok(home, *ISSUE, "--payer-name", payer, "--item", f"01:2026-10:{amount}")


def _count(home: Path, query: object) -> int:
    db = Database(default_url(home))
    try:
        with db.read() as session:
            return int(session.scalar(query) or 0)  # type: ignore[call-overload]
    finally:
        db.dispose()


def _tokens(home: Path) -> int:
    return _count(home, select(func.count()).select_from(ReceiptTimestampRow))


def _stamp_events(home: Path) -> int:
    return _count(
        home, select(func.count()).select_from(Event).where(Event.kind == "receipt.timestamped")
    )


# The authority over HTTP -------------------------------------------------------------------


def test_the_node_answers_pyhankos_client(homes: dict[str, Path], node: str) -> None:
    digest = hashlib.sha256(b"a document").digest()
    stamper = RequestsHTTPTimeStamper(f"{node}/tsa")  # type: ignore[no-untyped-call]
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    checked = check_token(token.dump(), b"a document", tier_pki().validator())
    assert isinstance(checked, TokenCheck), checked
    assert abs(checked.gen_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert _count(homes["640000"], select(func.count()).select_from(TsaSerialRow)) == 1


def test_the_node_answers_openssl(homes: dict[str, Path], node: str, tmp_path: Path) -> None:
    tool = need_tool("openssl", "openssl")
    data = tmp_path / "data.bin"
    data.write_bytes(b"some receipt's signature value")
    query = tmp_path / "q.tsq"
    subprocess.run(
        [tool, "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)],
        check=True,
        capture_output=True,
    )
    answer = httpx.post(
        f"{node}/tsa",
        content=query.read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/timestamp-reply"
    reply = tmp_path / "r.tsr"
    reply.write_bytes(answer.content)
    root = tmp_path / "root.pem"
    root.write_bytes(tier_pki().root.public_bytes(Encoding.PEM))
    run = subprocess.run(
        [
            tool,
            "ts",
            "-verify",
            "-queryfile",
            str(query),
            "-in",
            str(reply),
            "-CAfile",
            str(root),
            "-untrusted",
            str(homes["640000"] / "certs" / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0 and "Verification: OK" in run.stdout, run.stdout + run.stderr
    wrong = httpx.post(f"{node}/tsa", content=query.read_bytes())
    assert wrong.status_code == 415


def test_a_node_without_an_authority_serves_no_tsa(homes: dict[str, Path]) -> None:
    with serve_thread(homes["640100"]) as url:
        answer = httpx.post(
            f"{url}/tsa", content=b"0", headers={"Content-Type": "application/timestamp-query"}
        )
    assert answer.status_code in (404, 405)


def test_serials_are_kept_unique(ledger_db: Database) -> None:
    record = serial_log(ledger_db)
    now = datetime.now(UTC).replace(microsecond=0)
    assert record(12345, now, b"\x01" * 32)
    assert not record(12345, now, b"\x02" * 32)
    assert record(12346, now, b"\x02" * 32)


# Receipts on their way up ------------------------------------------------------------------


def _members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package.read_bytes())) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_receipts_are_time_stamped_when_transmitted(
    homes: dict[str, Path], node: str, tmp_path: Path
) -> None:
    prov, city = homes["640000"], homes["640100"]
    with (city / "receipts.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[tsa]\nurl = "{node}/tsa"\ntolerance_hours = 2\n')
    _issue(city, "银川企业甲", "100.00")
    _issue(city, "银川企业乙", "200.00")
    package = tmp_path / "city-1.zip"
    result = receipts(city, "transmit", "export", "-o", str(package))
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    assert (_tokens(city), _stamp_events(city)) == (2, 2)
    stamped = {n: x for n, x in _members(package).items() if n.startswith("receipts/")}
    assert len(stamped) == 2
    listing = _members(package)["receipts.csv"].decode()  # its digest is in the signed manifest
    for name, xml in stamped.items():
        issued, token = split_signature_timestamp(xml)
        assert token is not None and issued != xml
        # The listing names the receipt as issued: the digest its event names.
        assert hashlib.sha256(issued).hexdigest() in listing
        target = tmp_path / name.replace("/", "-")
        target.write_bytes(xml)
        verified = receipts(city, "--json", "verify", str(target))
        assert verified.exit_code == 0, verified.output
    ok(prov, "transmit", "import", str(package))
    assert (_tokens(prov), _stamp_events(prov)) == (2, 2)
    for home in (city, prov):
        audit = receipts(home, "audit")
        assert audit.exit_code == 0, audit.output


def test_the_tier_above_stamps_what_arrives_unstamped(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    prov, city = homes["640000"], homes["640100"]
    _issue(city, "银川企业丙", "300.00")
    package = tmp_path / "city-1.zip"
    ok(city, "transmit", "export", "-o", str(package))
    assert _tokens(city) == 0
    ok(prov, "transmit", "import", str(package))
    assert (_tokens(prov), _stamp_events(prov)) == (1, 1)


def test_the_tier_above_stamps_each_receipt_that_came_without_its_stamp(
    homes: dict[str, Path], node: str, tmp_path: Path
) -> None:
    """A package where some receipts carry a time-stamp and others do not (the city's authority
    failed for them): the province's own tokens go to the unstamped ones, each to its own."""
    prov, city = homes["640000"], homes["640100"]
    with (city / "receipts.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[tsa]\nurl = "{node}/tsa"\ntolerance_hours = 2\n')
    for n, payer in enumerate(("银川企业戊", "银川企业己", "银川企业庚", "银川企业辛")):
        _issue(city, payer, f"{n + 1}0.00")
    package = tmp_path / "city-1.zip"
    ok(city, "transmit", "export", "-o", str(package))
    members = _members(package)
    names = sorted(n for n in members if n.startswith("receipts/"))
    for name in (names[0], names[2]):  # the listing names them as issued: it still holds
        members[name] = split_signature_timestamp(members[name])[0]
    mixed = tmp_path / "city-1-mixed.zip"
    with zipfile.ZipFile(mixed, "w", zipfile.ZIP_DEFLATED) as z:
        for name in _members(package):
            z.writestr(name, members[name])
    ok(prov, "transmit", "import", str(mixed))
    assert (_tokens(prov), _stamp_events(prov)) == (4, 4)
    audit = receipts(prov, "audit")
    assert audit.exit_code == 0, audit.output


def test_a_receipt_changed_on_the_way_is_refused_before_the_authority_signs_it(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    """Receipt members are not signed (the listing is): a receipt altered on the way must not
    get this tier's authority to sign, and log, a time-stamp over what was put there."""
    prov, city = homes["640000"], homes["640100"]
    _issue(city, "银川企业壬", "70.00")
    package = tmp_path / "city-1.zip"
    ok(city, "transmit", "export", "-o", str(package))
    members = _members(package)
    [name] = [n for n in members if n.startswith("receipts/")]
    members[name] = members[name].replace("银川企业壬".encode(), "银川企业癸".encode())
    changed = tmp_path / "city-1-changed.zip"
    with zipfile.ZipFile(changed, "w", zipfile.ZIP_DEFLATED) as z:
        for member, content in members.items():
            z.writestr(member, content)
    refused = receipts(prov, "transmit", "import", str(changed))
    assert refused.exit_code != 0
    assert "is not the listed receipt (refused before this tier's time-stamp" in refused.stderr
    assert _count(prov, select(func.count()).select_from(TsaSerialRow)) == 0
    assert _tokens(prov) == 0


def test_a_receipt_stamped_beyond_the_tolerance_is_refused_on_import(
    homes: dict[str, Path], node: str, tmp_path: Path
) -> None:
    prov, city = homes["640000"], homes["640100"]
    with (city / "receipts.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[tsa]\nurl = "{node}/tsa"\n')
    # The province tolerates under a second between a receipt's claimed signing time and its
    # time-stamp; the city's receipt is stamped two seconds after it was signed.
    with (prov / "receipts.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[tsa]\ntolerance_hours = 0.0002\n")
    _issue(city, "银川企业丁", "50.00")
    time.sleep(2)
    package = tmp_path / "city-1.zip"
    ok(city, "transmit", "export", "-o", str(package))
    refused = receipts(prov, "transmit", "import", str(package))
    assert refused.exit_code != 0
    assert "signing-time-backdated" in refused.stderr
    assert _tokens(prov) == 0


# pki issue-tsa -----------------------------------------------------------------------------


def test_pki_issues_the_time_stamping_certificate(
    pki_tiers_copy: Tiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    nat = pki_tiers_copy.nat
    env = {**pki_cli.ENV, TSA_PASSPHRASE_ENV: TSA_PASSPHRASE}
    result = pki_cli.run(nat, "--json", "pki", "issue-tsa", pki_cli.CA, env=env)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    key_file, cert_file = Path(info["key"]), Path(info["certificate"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    cert = load_certificates(cert_file)[0]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert cert.issuer == load_certificates(nat / "certs" / "ca.pem")[0].subject
    assert (nat / "ca" / "issued" / f"{cert.serial_number:x}.pem").is_file()
    again = pki_cli.run(nat, "pki", "issue-tsa", pki_cli.CA, env=env)
    assert again.exit_code == 2 and "exists already" in again.stderr
    monkeypatch.setenv(TSA_PASSPHRASE_ENV, TSA_PASSPHRASE)
    with serve_thread(nat, port=None) as url:
        stamper = RequestsHTTPTimeStamper(f"{url}/tsa")  # type: ignore[no-untyped-call]
        token = asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    assert token["content"]["certificates"][0].chosen.dump() == cert.public_bytes(Encoding.DER)


def test_tsa_serve_answers_on_its_own(homes: dict[str, Path], tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, TSA_PASSPHRASE_ENV: TSA_PASSPHRASE}
    command = [sys.executable, "-m", "cli", "--home", str(homes["640000"])]
    proc = subprocess.Popen(
        [*command, "tsa", "serve", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/tsa"
        deadline = time.monotonic() + 120  # a loaded machine starts Python slowly
        token = None
        while token is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                stamper = RequestsHTTPTimeStamper(url)  # type: ignore[no-untyped-call]
                digest = hashlib.sha256(b"y").digest()
                token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
            except OSError:
                time.sleep(0.2)
        assert token is not None, proc.stderr.read() if proc.stderr and proc.poll() else ""
        assert isinstance(check_token(token.dump(), b"y", tier_pki().validator()), TokenCheck)
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_push_to_a_node_with_an_authority_is_stamped_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from receipts.transmission import request_signing
    from receipts.transmission.export import export_package
    from receipts.transmission.http_client import PACKAGES_PATH
    from tests.support.tier_node import node_app, tiers

    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv(TSA_PASSPHRASE_ENV, TSA_PASSPHRASE)
    world = tiers(tmp_path, registered=("640100",))
    world.issue("640100", "银川甲", "100.00")
    _install_authority(world.homes["640000"])
    db = world.database("640100")
    try:
        package, _ = export_package(db, tier_pki().signers["640100"], "640000")
    finally:
        db.dispose()
    headers = dict(
        request_signing.sign_request(
            tier_pki().signers["640100"], "640000", "POST", PACKAGES_PATH, "", package
        )
    )
    with TestClient(node_app(world.homes["640000"])) as client:
        answer = client.post(PACKAGES_PATH, content=package, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (_tokens(world.homes["640000"]), _stamp_events(world.homes["640000"])) == (1, 1)
