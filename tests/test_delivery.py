"""``receipts deliver`` against a real SMTP server (aiosmtpd) on a loopback port, with STARTTLS
(a throw-away certificate made here) and AUTH required: every receipt, the red one too, arrives
once at its payer's registered address with its PDF (which verifies) and its signed XML; a rerun
sends nothing; the audit passes. SQLite and PostgreSQL (docs/delivery.md).

The server and the workspace set-up are shared with ``tests/test_delivery_failures.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import socket
import ssl
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from stdnum.cn import uscc as stdnum_uscc

from receipts.ledger.database import Database
from tests.support.postgres import PgSchemas, pg_url_or_skip
from tests.support.workspaces import federation, receipts

USER, PASSWORD = "yinchuan-clerk", "s3cret-for-tests"
SENDER = "shouju@yinchuan-union.example.cn"
PAYERS = {
    "91640100MA7600001J": ("宁夏贺兰山实业有限公司", "caiwu@helanshan.example.cn"),
    "91640100MA7600005Y": ("银川六盘山商贸有限公司", "finance@liupanshan.example.cn"),
}
#: A payer issued to but never registered: its receipts have no address and are never sent.
UNREGISTERED = "91640100MA760000" + "3" + stdnum_uscc.calc_check_digit("91640100MA7600003")


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: bytes | None

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """The handler: what arrived, and the refusals a test plants."""

    received: list[Received] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)
    """Every RCPT address offered, accepted or not."""
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    """address → the reply to its RCPT (``550 …``, ``451 …``)."""
    refuse_data: dict[str, list[str]] = field(default_factory=dict)
    """address → replies to its next bodies, one used per message (then accepted)."""
    drop_after_body: set[str] = field(default_factory=set)
    """Addresses whose body is taken and the connection then dropped (no reply)."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpts.append(address)
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        (to,) = envelope.rcpt_tos
        planned = self.refuse_data.get(to)
        if planned:
            return planned.pop(0)
        content = envelope.original_content or b""
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        assert envelope.mail_from is not None
        # session.ssl is set by STARTTLS; with TLS from the first byte only the transport knows.
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), content, tls, login)
        )
        if to in self.drop_after_body:
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if r.rcpt_tos == [address]]


@dataclass
class MailServer:
    """A running server: where it listens and the CA file that trusts its certificate."""

    port: int
    ca_file: Path
    mailbox: Mailbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 it signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "delivery test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def _serve(tmp_path: Path, *, implicit_tls: bool) -> Iterator[MailServer]:
    """An SMTP server on a free loopback port that requires TLS (STARTTLS, or from the first
    byte) and then AUTH."""
    folder = tmp_path / ("smtps" if implicit_tls else "smtp")
    folder.mkdir()
    ca_file, cert_file, key_file = _certificate(folder)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; with TLS from the first byte
    # every command is encrypted anyway (the test checks the session was TLS).
    where: dict[str, Any] = {"ssl_context": tls, "auth_require_tls": False} if implicit_tls else {
        "tls_context": tls, "require_starttls": True, "auth_require_tls": True}  # fmt: skip
    controller = Controller(
        mailbox,
        loop=asyncio.new_event_loop(),
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_authenticator,
        auth_required=True,
        **where,
    )
    controller.start()
    try:
        yield MailServer(controller.port, ca_file, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    """A server that requires STARTTLS, then AUTH."""
    yield from _serve(tmp_path, implicit_tls=False)


@pytest.fixture
def smtps_server(tmp_path: Path) -> Iterator[MailServer]:
    """A server that speaks TLS from the first byte (port 465 style), then requires AUTH."""
    yield from _serve(tmp_path, implicit_tls=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (the workspace's SQLite file) or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
        return
    schemas = PgSchemas(pg_url_or_skip())
    try:
        yield schemas.new()
    finally:
        schemas.drop_all()


@dataclass
class City:
    """银川's federation workspace, its ledger URL, and the receipts it issued."""

    home: Path
    db: str | None
    issued: list[tuple[str, str]]
    """(code, number) of each receipt, in issue order."""

    def run(self, *args: str) -> Result:
        return receipts(self.home, *args, db=self.db)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result.stdout

    def deliver(self, *args: str) -> tuple[Result, dict[str, Any]]:
        result = self.run("--json", "deliver", *args)
        return result, json.loads(result.stdout) if result.stdout.strip() else {}

    def database(self) -> Database:
        from receipts.ledger.database import default_url

        return Database(self.db or default_url(self.home))

    def issue(self, uscc: str, name: str, amount: str) -> tuple[str, str]:
        out = self.ok("--json", "issue", "--payer-name", name, "--payer-kind", "enterprise",
                      "--payer-uscc", uscc, "--item", f"01:2026-10:{amount}",
                      "--handler", "张晓梅", "--reviewer", "李建国")  # fmt: skip
        (issued,) = json.loads(out)
        ref = (issued["code"], issued["number"])
        self.issued.append(ref)
        return ref

    def reverse(self, ref: tuple[str, str]) -> tuple[str, str]:
        out = self.ok("--json", "reverse", *ref, "--reason", "金额有误", "--handler", "张晓梅",
                      "--reviewer", "李建国")  # fmt: skip
        (red,) = json.loads(out)
        self.issued.append((red["code"], red["number"]))
        return self.issued[-1]


def configure_smtp(home: Path, server: MailServer, **extra: Any) -> None:
    path = home / "receipts.toml"
    doc = tomllib.loads(path.read_text("utf-8"))
    table = {
        "host": "127.0.0.1",
        "port": server.port,
        "from": SENDER,
        "username": USER,
        "ca_file": str(server.ca_file),
        "retries": 1,
        "retry_delay": 0,
        "timeout": 10,
        **extra,
    }
    doc["smtp"] = {k: v for k, v in table.items() if v is not None}  # None: leave the key out
    path.write_text(tomli_w.dumps(doc), "utf-8")


def make_city(
    tmp_path: Path, db: str | None, server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> City:
    """A city with stock, two registered payers with emails, and the SMTP password set."""
    monkeypatch.setenv("RECEIPTS_SMTP_PASSWORD", PASSWORD)
    prov = tmp_path / "prov"
    federation(prov, "640000")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    stock = tmp_path / "stock.xml"
    allocated = receipts(prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o",
                         str(stock))  # fmt: skip
    assert allocated.exit_code == 0, allocated.output
    city = City(tmp_path / "city", db, [])
    federation(city.home, "640100")
    city.ok("stock", "import", str(stock))
    for uscc, (name, email) in PAYERS.items():
        city.ok("payer", "add", "--uscc", uscc, "--name", name, "--kind", "enterprise",
                "--email", email)  # fmt: skip
    configure_smtp(city.home, server)
    return city


def receipt_xml(city: City, code: str, number: str) -> bytes:
    db = city.database()
    try:
        from receipts.domain.model import ReceiptRef
        from receipts.ledger.queries import load_receipt

        return load_receipt(db, ReceiptRef(code, int(number))).xml
    finally:
        db.dispose()


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """filename → (content type, bytes) of each attachment."""
    out: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out[str(part.get_filename())] = (part.get_content_type(), payload)
    return out


def test_each_receipt_arrives_once_with_its_pdf_and_xml(
    tmp_path: Path, db_url: str | None, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = make_city(tmp_path, db_url, mail_server, monkeypatch)
    (a_uscc, (a_name, a_mail)), (b_uscc, (b_name, b_mail)) = PAYERS.items()
    first = city.issue(a_uscc, a_name, "2000.00")
    city.issue(b_uscc, b_name, "350.50")
    city.issue(UNREGISTERED, "宁夏沙湖旅游有限公司", "99.00")
    red = city.reverse(first)

    dry, planned = city.deliver("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert planned["counts"] == {"would-send": 3}
    assert mail_server.mailbox.rcpts == []

    result, report = city.deliver()
    assert result.exit_code == 0, result.output
    assert report["counts"] == {"sent": 3}
    box = mail_server.mailbox
    assert sorted(r.rcpt_tos[0] for r in box.received) == sorted([a_mail, a_mail, b_mail])
    assert all(r.tls and r.login == USER.encode() and r.mail_from == SENDER for r in box.received)
    subjects = []
    for line, got in zip(report["deliveries"], box.received, strict=True):
        code, number = line["receipt"].split("-")
        message = got.message()
        assert str(message["Message-ID"]).strip() == line["message_id"]  # (folded when long)
        assert message["To"].addresses[0].addr_spec == line["to"] == got.rcpt_tos[0]
        subjects.append(str(message["Subject"]))
        files = attachments(message)
        xml = receipt_xml(city, code, number)
        assert files[f"{code}-{number}.xml"] == ("application/xml", xml)
        content_type, pdf = files[f"{code}-{number}.pdf"]
        assert content_type == "application/pdf"
        from receipts.render.receipt_pdf import extract_xml

        assert hashlib.sha256(extract_xml(pdf)).digest() == hashlib.sha256(xml).digest()
        saved = tmp_path / f"{code}-{number}.pdf"
        saved.write_bytes(pdf)
        verified = city.run("verify", str(saved))
        assert verified.exit_code == 0, verified.output
    # The payer learns of the reversal: the red receipt goes too, saying what it cancels.
    assert [s for s in subjects if s.startswith("红字")] == [
        f"红字工会经费收入专用收据(电子) {red[0]}-{red[1]}（冲红 {first[0]}-{first[1]}）"
    ]
    assert [len(box.to(a_mail)), len(box.to(b_mail))] == [2, 1]

    again, report = city.deliver()
    assert again.exit_code == 0 and report["counts"] == {}
    assert len(box.received) == 3
    assert city.run("audit").exit_code == 0
    log = json.loads(city.ok("--json", "log", "--kind", "delivery.sent"))
    assert len(log) == 3


def test_options_select_what_goes(
    tmp_path: Path, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    (a_uscc, (a_name, _)), (b_uscc, (b_name, b_mail)) = PAYERS.items()
    city.issue(a_uscc, a_name, "10.00")
    second = city.issue(b_uscc, b_name, "20.00")
    city.issue(a_uscc, a_name, "30.00")
    result, report = city.deliver("--receipt", second[0], second[1].lstrip("0"))
    assert result.exit_code == 0, result.output
    assert [d["receipt"] for d in report["deliveries"]] == ["-".join(second)]
    assert [r.rcpt_tos for r in mail_server.mailbox.received] == [[b_mail]]
    result, report = city.deliver("--receipt", *second)
    assert result.exit_code == 0 and report["counts"] == {}
    assert report["notes"] == [f"{'-'.join(second)} was delivered to {b_mail} already; "
                               "it is not sent again"]  # fmt: skip
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    result, report = city.deliver("--since", tomorrow)
    assert result.exit_code == 0 and report["counts"] == {}
    result, report = city.deliver("--limit", "1")
    assert report["counts"] == {"sent": 1}
    assert [d["receipt"] for d in report["deliveries"]] == ["-".join(city.issued[0])]
    result, report = city.deliver()
    assert report["counts"] == {"sent": 1}
    assert len(mail_server.mailbox.received) == 3
    human = city.run("deliver", "--receipt", *city.issued[0])
    assert human.exit_code == 0
    assert "delivered to" in human.stdout and "nothing to deliver" in human.stdout


def test_implicit_tls(
    tmp_path: Path,
    mail_server: MailServer,
    smtps_server: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``implicit_tls = true``: TLS from the first byte, certificate verified, then AUTH."""
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    (uscc, (name, email)), _ = PAYERS.items()
    city.issue(uscc, name, "12.34")
    configure_smtp(city.home, smtps_server, implicit_tls=True)
    result, report = city.deliver()
    assert result.exit_code == 0, result.output
    assert report["counts"] == {"sent": 1}
    assert mail_server.mailbox.received == []
    (got,) = smtps_server.mailbox.received
    assert got.rcpt_tos == [email] and got.login == USER.encode() and got.tls
    configure_smtp(city.home, smtps_server, implicit_tls=True, starttls=True)
    both = city.run("deliver")
    assert both.exit_code == 2 and "give starttls or implicit_tls, not both" in both.stderr
