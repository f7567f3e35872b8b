"""``receipts deliver`` against a real SMTP server (aiosmtpd) on a loopback port, with STARTTLS
(a throw-away certificate made here) and AUTH required: every receipt, the red one too, arrives
once at its payer's registered address with its PDF (which verifies) and its signed XML; a rerun
sends nothing; the audit passes. SQLite and PostgreSQL (docs/delivery.md).

The server is in ``tests/test_delivery_server.py``; the workspace set-up here is shared with
``tests/test_delivery_failures.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import Result
from stdnum.cn import uscc as stdnum_uscc

from receipts.ledger.database import Database
from tests.support.postgres import PgSchemas, pg_url_or_skip
from tests.support.workspaces import federation, receipts
from tests.test_delivery_server import (
    PASSWORD,
    USER,
    MailServer,
    mail_server,  # noqa: F401 - a fixture
    smtps_server,  # noqa: F401 - a fixture
)

SENDER = "shouju@yinchuan-union.example.cn"
PAYERS = {
    "91640100MA7600001J": ("宁夏贺兰山实业有限公司", "caiwu@helanshan.example.cn"),
    "91640100MA7600005Y": ("银川六盘山商贸有限公司", "finance@liupanshan.example.cn"),
}
#: A payer issued to but never registered: its receipts have no address and are never sent.
UNREGISTERED = "91640100MA760000" + "3" + stdnum_uscc.calc_check_digit("91640100MA7600003")


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
    tmp_path: Path,
    db_url: str | None,
    mail_server: MailServer,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
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
    tmp_path: Path,
    mail_server: MailServer,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
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
    mail_server: MailServer,  # noqa: F811 - the fixture imported above
    smtps_server: MailServer,  # noqa: F811 - the fixture imported above
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
