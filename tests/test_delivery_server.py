"""The SMTP server the delivery tests run (docs/delivery.md, "Tests"): aiosmtpd on a free
loopback port, requiring TLS (STARTTLS, or from the first byte) with a throw-away CA and
certificate made here, then AUTH; it records what it received and plays the refusals a test
plants. No tests here: ``tests/test_delivery.py`` and ``tests/test_delivery_failures.py`` use it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "yinchuan-clerk", "s3cret-for-tests"


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
