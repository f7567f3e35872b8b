"""``receipts deliver`` when things go wrong (docs/delivery.md): a 451 mid-run is tried again in
the run, then on the rerun, and every receipt arrives once; a 550 is a bounce, recorded and never
tried again; an outcome left unknown (the connection lost after the body, a crash before the
outcome was written) is held, not sent twice; only registered addresses are ever used; the audit
catches an edited delivery row; bad configuration and an unusable server record nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.test_delivery import (
    PAYERS,
    UNREGISTERED,
    City,
    configure_smtp,
    db_url,  # noqa: F401 - a fixture
    make_city,
)
from tests.test_delivery_server import MailServer, mail_server  # noqa: F401 - a fixture

(A_USCC, (A_NAME, A_MAIL)), (B_USCC, (B_NAME, B_MAIL)) = PAYERS.items()
EVIL = "collector@evil.example.com"


def sql(city: City, statement: str, **params: object) -> None:
    db = city.database()
    try:
        with db.engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        db.dispose()


def events(city: City, kind: str) -> list[dict[str, object]]:
    found = json.loads(city.ok("--json", "log", "--kind", kind))
    assert isinstance(found, list)
    return [e["payload"] for e in found]


def audit_codes(city: City) -> list[str]:
    report = json.loads(city.run("--json", "audit").stdout)
    return [f["code"] for f in report["findings"]]


def test_a_451_is_tried_again_and_every_receipt_arrives_once(
    tmp_path: Path,
    db_url: str | None,  # noqa: F811
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, db_url, mail_server, monkeypatch)
    for uscc, name, amount in ((A_USCC, A_NAME, "1.00"), (B_USCC, B_NAME, "2.00"),
                               (A_USCC, A_NAME, "3.00")):  # fmt: skip
        city.issue(uscc, name, amount)
    box = mail_server.mailbox
    # The first message is refused once (tried again within the run, after retry_delay); the
    # second every time this run tries it (retries = 1: two tries), then accepted next run.
    box.refuse_data[A_MAIL] = ["451 4.3.0 mailbox busy"]
    box.refuse_data[B_MAIL] = ["451 4.3.0 try later", "451 4.3.0 try later"]
    result, report = city.deliver()
    assert result.exit_code == 1, result.output
    assert report["counts"] == {"deferred": 1, "sent": 2}
    deferred = [d for d in report["deliveries"] if d["outcome"] == "deferred"]
    assert deferred[0]["reply"] == "451 4.3.0 try later"
    assert len(box.received) == 2
    assert box.rcpts == [A_MAIL, A_MAIL, B_MAIL, B_MAIL, A_MAIL]
    assert [e["smtp_code"] for e in events(city, "delivery.deferred")] == [451]

    result, report = city.deliver()
    assert result.exit_code == 0, result.output
    assert report["counts"] == {"sent": 1}
    ids = [str(r.message()["Message-ID"]).strip() for r in box.received]
    assert len(ids) == len(set(ids)) == 3  # one message per receipt
    subjects = sorted(str(r.message()["Subject"]).split()[-1] for r in box.received)
    assert subjects == sorted(f"{c}-{n}" for c, n in city.issued)
    assert city.deliver()[1]["counts"] == {}
    assert audit_codes(city) == []


def test_a_550_is_a_bounce_never_tried_again(
    tmp_path: Path,
    db_url: str | None,  # noqa: F811
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, db_url, mail_server, monkeypatch)
    city.issue(A_USCC, A_NAME, "1.00")
    bounced = city.issue(B_USCC, B_NAME, "2.00")
    box = mail_server.mailbox
    box.refuse_rcpt[B_MAIL] = "550 5.1.1 no such mailbox"
    result, report = city.deliver()
    assert result.exit_code == 1, result.output
    assert report["counts"] == {"bounced": 1, "sent": 1}
    assert box.rcpts.count(B_MAIL) == 1  # a permanent refusal is not tried again in the run
    (event,) = events(city, "delivery.bounced")
    assert (event["code"], event["number"], event["to"]) == (bounced[0], int(bounced[1]), B_MAIL)
    assert (event["smtp_code"], event["reply"]) == (550, "550 5.1.1 no such mailbox")

    result, report = city.deliver()
    assert result.exit_code == 0 and report["counts"] == {}
    assert box.rcpts.count(B_MAIL) == 1
    result, report = city.deliver("--receipt", *bounced)
    assert result.exit_code == 0 and report["notes"][0].startswith(f"{'-'.join(bounced)} bounced")

    # A corrected address in the register: the receipt goes there.
    city.ok("payer", "update", B_USCC, "--email", "caiwu@liupanshan.example.cn")
    result, report = city.deliver()
    assert report["counts"] == {"sent": 1}
    assert box.received[-1].rcpt_tos == ["caiwu@liupanshan.example.cn"]
    assert audit_codes(city) == []


def test_an_unknown_outcome_is_held_not_sent_twice(
    tmp_path: Path,
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    lost = city.issue(A_USCC, A_NAME, "1.00")
    city.issue(B_USCC, B_NAME, "2.00")
    box = mail_server.mailbox
    box.drop_after_body.add(A_MAIL)  # the server takes the body, then the line goes dead
    result, report = city.deliver()
    assert result.exit_code == 1, result.output
    assert report["counts"] == {"sent": 1, "unknown": 1}
    assert len(box.received) == 2  # the server did accept it: the sender cannot know
    assert events(city, "delivery.sent")[0]["to"] == B_MAIL

    box.drop_after_body.clear()
    for _ in range(2):
        result, report = city.deliver()
        assert result.exit_code == 1, result.output
        assert [(d["receipt"], d["outcome"]) for d in report["deliveries"]] == [
            ("-".join(lost), "held")
        ]
        assert len(box.received) == 2
    # Asked explicitly, it goes again with the same Message-ID (at least once, for this one).
    result, report = city.deliver("--retry-unknown")
    assert result.exit_code == 0, result.output
    assert report["counts"] == {"sent": 1}
    first, again = box.to(A_MAIL)
    assert first.message()["Message-ID"] == again.message()["Message-ID"]
    assert city.deliver()[1]["counts"] == {}
    assert audit_codes(city) == []


def test_a_crash_after_the_server_accepted_sends_nothing_twice(
    tmp_path: Path,
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    city.issue(A_USCC, A_NAME, "1.00")
    city.issue(B_USCC, B_NAME, "2.00")

    def crash(*args: object) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr("receipts.delivery.run.record_outcome", crash)
        result, _ = city.deliver()
    assert result.exit_code == 3
    assert len(mail_server.mailbox.received) == 1  # accepted; its outcome never written
    result, report = city.deliver()
    assert result.exit_code == 1
    assert report["counts"] == {"held": 1, "sent": 1}
    assert len(mail_server.mailbox.received) == 2
    assert [r.rcpt_tos for r in mail_server.mailbox.received] == [[A_MAIL], [B_MAIL]]


def test_only_registered_addresses_are_ever_used(
    tmp_path: Path,
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    a = city.issue(A_USCC, A_NAME, "1.00")
    stranger = city.issue(UNREGISTERED, "宁夏沙湖旅游有限公司", "2.00")
    typed = city.run("deliver", "--receipt", *a, "--to", EVIL)
    assert typed.exit_code == 2
    assert typed.stderr.startswith("error: receipts are delivered only to the payer's registered")
    refused = city.run("deliver", "--receipt", *stranger)
    assert refused.exit_code == 2
    assert f"its payer {UNREGISTERED} is not in the payer register" in refused.stderr
    # An insider points the register's cache row elsewhere, in SQL: the events still say the
    # real address, so nothing goes; the audit names the row.
    sql(city, "UPDATE payers SET email = :evil WHERE uscc = :uscc", evil=EVIL, uscc=A_USCC)
    result, report = city.deliver()
    assert result.exit_code == 1
    assert report["problems"] == [
        f"payer {A_USCC}: its register row's email differs from its events (run receipts "
        "audit); its receipts were not sent"
    ]
    assert "payer-mismatch" in audit_codes(city)
    sql(city, "UPDATE payers SET email = :mail WHERE uscc = :uscc", mail=A_MAIL, uscc=A_USCC)
    result, report = city.deliver()
    assert result.exit_code == 0 and report["counts"] == {"sent": 1}
    assert mail_server.mailbox.rcpts == [A_MAIL]
    assert EVIL not in mail_server.mailbox.rcpts


def test_the_audit_catches_an_edited_delivery_row(
    tmp_path: Path,
    db_url: str | None,  # noqa: F811
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, db_url, mail_server, monkeypatch)
    city.issue(A_USCC, A_NAME, "1.00")
    bounced = city.issue(B_USCC, B_NAME, "2.00")
    mail_server.mailbox.refuse_rcpt[B_MAIL] = "550 5.1.1 no such mailbox"
    city.deliver()
    assert audit_codes(city) == []
    where = "code = :code AND number = :number"
    key = {"code": bounced[0], "number": int(bounced[1])}
    sql(city, f"UPDATE deliveries SET status = 'sent' WHERE {where}", **key)
    assert audit_codes(city) == ["delivery-mismatch"]
    sql(city, f"DELETE FROM deliveries WHERE {where}", **key)
    assert audit_codes(city) == ["delivery-mismatch"]
    # Deleted, it would go again (to the bounced address): the audit is what catches it.
    result = city.run("audit")
    assert result.exit_code == 1
    assert f"{bounced[0]}-{bounced[1]} to {B_MAIL} differs from its events" in result.stdout


def test_bad_configuration_and_an_unusable_server_record_nothing(
    tmp_path: Path,
    mail_server: MailServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = make_city(tmp_path, None, mail_server, monkeypatch)
    city.issue(A_USCC, A_NAME, "1.00")

    def refused(exit_code: int, message: str) -> None:
        result = city.run("deliver")
        assert result.exit_code == exit_code, result.output
        assert message in result.stderr, result.stderr
        assert result.stderr.count("error:") == 1
        assert events(city, "delivery.") == []

    configure_smtp(city.home, mail_server, password=PASSWORD_IN_FILE)
    refused(2, "a password does not belong in the file; remove it and set RECEIPTS_SMTP_PASSWORD")
    configure_smtp(city.home, mail_server)
    monkeypatch.delenv("RECEIPTS_SMTP_PASSWORD")
    refused(2, "needs RECEIPTS_SMTP_PASSWORD set")
    monkeypatch.setenv("RECEIPTS_SMTP_PASSWORD", "wrong")
    refused(3, "refused user 'yinchuan-clerk': 535")
    monkeypatch.setenv("RECEIPTS_SMTP_PASSWORD", "s3cret-for-tests")
    configure_smtp(city.home, mail_server, ca_file=None)  # the system's CAs: not ours
    refused(3, "certificate not trusted")
    configure_smtp(city.home, mail_server, starttls=False)
    refused(2, "username needs starttls = true")
    configure_smtp(city.home, mail_server, port=closed_port())
    refused(3, "unreachable after 2 tries")
    assert mail_server.mailbox.rcpts == []
    configure_smtp(city.home, mail_server)
    result, report = city.deliver()
    assert result.exit_code == 0 and report["counts"] == {"sent": 1}


PASSWORD_IN_FILE = "hunter2"


def closed_port() -> int:
    from tests.test_delivery_server import _free_port

    return _free_port()
