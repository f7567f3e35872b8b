"""``receipts serve`` for real (issue 16): uvicorn in a subprocess on a free loopback port,
queried with httpx; SIGTERM during a slow request lets it finish, then the node exits 0; several
workers over a PostgreSQL or a SQLite ledger."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.node import SeededCity, seeded_city
from tests.support.postgres import PgSchemas

pytestmark = pytest.mark.slow
RECEIPTS = str(Path(sys.executable).with_name("receipts"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Node:
    """A running ``receipts serve``."""

    def __init__(self, city: SeededCity, *args: str, ready_within: float = 30) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = city.home / "logs" / "access.jsonl"
        with (city.home / "receipts.toml").open("a", encoding="utf-8") as config:
            config.write('access_log = "logs/access.jsonl"\n')  # under [serve]
        db = ["--db", city.db] if city.db else []
        command = [RECEIPTS, "--home", str(city.home), *db, "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._wait_healthy(ready_within)

    def _wait_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                pytest.fail(f"receipts serve exited {self.process.returncode}: {err.decode()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"receipts serve did not become healthy in {seconds:.0f} s")

    def stop(self) -> int:
        """SIGTERM; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=45)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def city(tmp_path: Path) -> SeededCity:
    return seeded_city(tmp_path)


@pytest.fixture
def node(city: SeededCity) -> Iterator[Node]:
    running = Node(city)
    yield running
    running.kill()


def _slow_upload(url: str, started: threading.Event, result: list[httpx.Response]) -> None:
    boundary = "slowupload"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.xml"\r\n'
        "Content-Type: application/xml\r\n\r\n<receipt>"
    ).encode()
    tail = f"</receipt>\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        started.set()
        time.sleep(2.0)  # the node is told to stop meanwhile
        yield tail

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    result.append(httpx.post(url + "/api/v1/verify", content=body(), headers=headers, timeout=30))


def test_the_node_serves_and_stops_gracefully(city: SeededCity, node: Node) -> None:
    check = city.receipts[2].check_code
    answer = httpx.get(node.url + "/api/v1/lookup", params=city.query(2))
    assert answer.status_code == 200
    assert answer.json()["found"] is True and answer.json()["payer"] == "张**"
    assert "server" not in answer.headers
    page = httpx.post(node.url + "/lookup", data=city.query(2))
    assert page.status_code == 200 and "有效" in page.text

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
        for _ in range(80):
            yield b"0" * 65536

    kind = {"content-type": "multipart/form-data; boundary=x"}
    big = httpx.post(node.url + "/api/v1/verify", content=chunked(), headers=kind, timeout=30)
    assert big.status_code == 413

    started, result = threading.Event(), list[httpx.Response]()
    upload = threading.Thread(target=_slow_upload, args=(node.url, started, result))
    upload.start()
    assert started.wait(10)
    time.sleep(0.5)
    node.process.send_signal(signal.SIGTERM)
    upload.join(30)
    assert result, "the request in flight got no answer"
    assert result[0].status_code == 200
    assert result[0].json()["valid"] is False  # answered in full, findings and all
    assert node.process.wait(timeout=45) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(node.url + "/healthz", timeout=2)

    lines = [json.loads(line) for line in node.log.read_text("utf-8").splitlines()]
    assert ("GET", "/api/v1/lookup", 200) in [(x["method"], x["path"], x["status"]) for x in lines]
    assert ("POST", "/api/v1/verify", 200) in [(x["method"], x["path"], x["status"]) for x in lines]
    text = node.log.read_text("utf-8")
    assert check not in text and "张晓梅" not in text and "?" not in text


def test_an_idle_node_stops_with_exit_0(node: Node) -> None:
    assert node.stop() == 0
    err = node.process.stderr.read().decode() if node.process.stderr else ""
    assert "Traceback" not in err


def test_several_workers_on_postgresql(
    tmp_path: Path, pg_schemas: PgSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = seeded_city(tmp_path, db=pg_schemas.new())
    node = Node(city, "--workers", "2")
    try:
        with httpx.Client(base_url=node.url) as client:
            answers = [client.get("/api/v1/lookup", params=city.query(n)) for n in (1, 2, 3) * 4]
            assert all(a.status_code == 200 and a.json()["found"] for a in answers)
            assert answers[0].json()["reversed_by"] == f"{city.code}-0000000003"
            health = client.get("/healthz").json()
            assert health == {"status": "ok", "ledger": True, "schema_at_head": True}
        children = _children(node.process.pid)
        assert len(children) >= 2, children
        assert node.stop() == 0
    finally:
        node.kill()


def test_several_workers_on_sqlite_read_what_another_process_writes(city: SeededCity) -> None:
    """Two workers over the SQLite ledger (WAL: readers never wait for the writer; writers are
    serialised by ``BEGIN IMMEDIATE``, as several commands on one workspace are): both answer,
    and a receipt another process issues meanwhile is found at once by the workers' long-lived
    look-up connections."""
    from receipts.issuing.issue import issue
    from receipts.ledger.database import Database
    from receipts.ledger.queries import load_receipt
    from tests.support.ledger import make_issuer, request

    # Each worker process imports the whole node (seconds on a busy machine) before it answers.
    node = Node(city, "--workers", "2", ready_within=120)
    try:
        with httpx.Client(base_url=node.url) as client:
            answers = [client.get("/api/v1/lookup", params=city.query(n)) for n in (1, 2, 3) * 4]
            assert all(a.status_code == 200 and a.json()["found"] for a in answers)
            db = Database(f"sqlite:///{city.home / 'ledger.sqlite'}")
            outcome = issue(db, make_issuer(), request(amount="300.00"))
            check = load_receipt(db, outcome.ref).receipt.check_code
            db.dispose()
            query = {"code": city.code, "number": str(outcome.ref.number), "check": check}
            fresh = [client.get("/api/v1/lookup", params=query) for _ in range(6)]
            assert all(a.status_code == 200 and a.json()["found"] for a in fresh)
        assert len(_children(node.process.pid)) >= 2
        assert node.stop() == 0
    finally:
        node.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_the_node_serves_https_when_configured(city: SeededCity, tmp_path: Path) -> None:
    cert, key = _self_signed(city.home)
    with (city.home / "receipts.toml").open("a", encoding="utf-8") as config:
        config.write(f'tls_cert = "{cert.name}"\ntls_key = "{key.name}"\n')  # under [serve]
    node = Node.__new__(Node)
    node.port = _free_port()
    node.url = f"https://127.0.0.1:{node.port}"
    node.log = city.home / "logs" / "access.jsonl"
    command = [RECEIPTS, "--home", str(city.home), "serve", "--port", str(node.port)]
    node.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(
                    node.url + "/api/v1/lookup", params=city.query(2), verify=trusted
                )
                break
            except httpx.TransportError:
                assert node.process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json()["found"] is True
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{node.port}/healthz", timeout=2)
        assert node.stop() == 0
    finally:
        node.kill()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files in ``folder``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.pem", folder / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path
