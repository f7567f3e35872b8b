"""An insider with write access to the ledger database (SQLite or PostgreSQL), but not to the
workspace's signing key, rewrites history: ``audit`` must say so, and issuing must refuse a
ledger that is behind its signed anchor (``docs/security.md``, insider rows)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select, text

from receipts.issuing.issue import issue_batch
from receipts.ledger.anchor import ledger_behind, ledger_facts
from receipts.ledger.database import Database, default_url
from receipts.ledger.events import canonical_json, event_hash, head_message, rfc3339
from receipts.ledger.models import ChainHead, Event, LedgerState, ReceiptRow, Transmission
from receipts.pki.anchor_file import ANCHOR_FILE
from receipts.pki.ledger_key import LedgerKeySigner, create_ledger_key
from receipts.pki.own_certificates import own_certificates, record_own_certificate
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.pki import build_pki
from tests.support.postgres import PgSchemas
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, receipts

PAYERS = ("宁夏贺兰山实业有限公司", "银川六盘山商贸有限公司", "宁夏沙湖旅游有限公司")
FORGED = "冒名顶替有限公司"


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    """A 640100 workspace that issued three receipts, one command each (its ledger URL when on
    PostgreSQL)."""
    db: str | None = None
    if request.param == "postgresql":
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        db = schemas.new()
    prov, home = tmp_path / "prov", tmp_path / "yinchuan"
    federation(prov, "640000")
    federation(home, "640100")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp_path / "alloc.xml"
    result = receipts(
        prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o", str(alloc)
    )
    assert result.exit_code == 0, result.output
    assert receipts(home, "stock", "import", str(alloc), db=db).exit_code == 0
    for payer in PAYERS:
        assert issue(home, db, payer).exit_code == 0
    assert receipts(home, "audit", db=db).exit_code == 0
    return home, db


def issue(home: Path, db: str | None, payer: str) -> Result:
    return receipts(
        home,
        "issue",
        "--payer-name",
        payer,
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        "91640100MA7600001J",
        "--item",
        "01:2026-10:300.00",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        db=db,
    )


def open_ledger(home: Path, db: str | None) -> Database:
    return Database(db or default_url(home))


def rechain(database: Database, resign: LedgerKeySigner) -> None:
    """Recompute every event hash and the tip; re-sign every head with ``resign`` (a head
    signer), as an insider without the workspace's key would."""
    with database.read() as session:
        events = list(session.scalars(select(Event).order_by(Event.seq)))
        first = events[0]
        prev = first.prev_hash
        for event in events:
            event.prev_hash = prev
            event.hash = event_hash(prev, event.seq, rfc3339(event.at), event.kind, event.payload)
            prev = event.hash
        state = session.get(LedgerState, 1)
        assert state is not None
        state.head_hash, state.event_count = prev, len(events)
        by_seq = {e.seq: e.hash for e in events}
        for head in session.scalars(select(ChainHead)):
            head.head_hash = by_seq[head.event_count]
            head.certificate = resign.certificate_pem
            head.signature = resign.sign(head_message("640100", head.event_count, head.head_hash))
        session.commit()


def test_forged_receipt_with_heads_resigned_by_a_lookalike_certificate(
    city: tuple[Path, str | None], tmp_path: Path
) -> None:
    home, db = city
    lookalike = create_ledger_key(
        tmp_path / "fake.key",
        tmp_path / "fake.pem",
        "640100",
        "银川市总工会",
        "insider lookalike passphrase",
    )
    database = open_ledger(home, db)
    with database.read() as session:
        row = session.scalars(select(ReceiptRow).where(ReceiptRow.number == 2)).one()
        xml = row.xml.decode().replace(PAYERS[1], FORGED).encode()
        digest = hashlib.sha256(xml).hexdigest()
        for event in session.scalars(select(Event).where(Event.kind == "receipt.issued")):
            payload = json.loads(event.payload)
            if payload["number"] == 2:
                event.payload = canonical_json({**payload, "digest": digest})
        row.xml, row.digest, row.payer_name = xml, digest, FORGED
        session.commit()
    rechain(database, lookalike)
    database.dispose()
    shown = receipts(home, "--json", "show", row.code, "2", db=db)
    assert FORGED in shown.stdout  # what the insider wanted the clerk to see
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    findings = json.loads(report.stdout)["findings"]
    codes = {f["code"] for f in findings}
    assert {"head-invalid", "receipt-signature-invalid"} <= codes, findings
    forged = [f["message"] for f in findings if f["code"] == "receipt-signature-invalid"]
    assert len(forged) == 1 and f"{row.code}-0000000002" in forged[0]


def test_deleting_every_signed_head_is_a_finding(city: tuple[Path, str | None]) -> None:
    home, db = city
    database = open_ledger(home, db)
    with database.read() as session:
        session.execute(text("DELETE FROM chain_heads"))
        session.commit()
    database.dispose()
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    codes = {f["code"] for f in json.loads(report.stdout)["findings"]}
    assert "events-unanchored" in codes


def truncate_last_receipt(database: Database) -> int:
    """Delete the last receipt, its event and everything after it, its heads, its derived rows,
    and rewind the counter and the tip: a clean tail truncation. Returns the deleted number."""
    with database.read() as session:
        issued = [
            (e.seq, json.loads(e.payload))
            for e in session.scalars(select(Event).where(Event.kind == "receipt.issued"))
        ]
        seq, payload = max(issued, key=lambda pair: pair[0])
        code, number = payload["code"], payload["number"]
        for statement in (
            "DELETE FROM receipt_items WHERE code = :code AND number = :number",
            "DELETE FROM receipts WHERE code = :code AND number = :number",
            "DELETE FROM client_references WHERE code = :code AND number = :number",
        ):
            session.execute(text(statement), {"code": code, "number": number})
        session.execute(text("DELETE FROM chain_heads WHERE event_count >= :seq"), {"seq": seq})
        session.execute(text("DELETE FROM events WHERE seq >= :seq"), {"seq": seq})
        session.execute(
            text("UPDATE number_counters SET last_number = :n WHERE code = :code"),
            {"n": number - 1, "code": code},
        )
        prev = session.scalars(select(Event).where(Event.seq == seq - 1)).one()
        state = session.get(LedgerState, 1)
        assert state is not None
        state.event_count, state.head_hash = prev.seq, prev.hash
        session.commit()
    return int(number)


def test_clean_tail_truncation_is_caught_by_the_anchor(city: tuple[Path, str | None]) -> None:
    home, db = city
    database = open_ledger(home, db)
    number = truncate_last_receipt(database)
    database.dispose()
    assert number == 3
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    codes = {f["code"] for f in json.loads(report.stdout)["findings"]}
    assert "ledger-behind-anchor" in codes
    again = issue(home, db, "另一家公司")
    assert again.exit_code == 1 and "behind its anchor" in again.stderr


def anchor_of(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / ANCHOR_FILE).read_text(encoding="ascii"))
    return data


def test_an_anchor_behind_the_ledger_is_a_crash_window_not_a_finding(
    city: tuple[Path, str | None],
) -> None:
    home, db = city
    older = (home / ANCHOR_FILE).read_bytes()
    assert issue(home, db, "另一家公司").exit_code == 0
    # A crash between the ledger's commit and the anchor's update leaves the older anchor.
    (home / ANCHOR_FILE).write_bytes(older)
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert any("covers 4 of 5 events" in note for note in data["notes"]), data
    assert issue(home, db, "第三家公司").exit_code == 0  # the next write catches up
    assert anchor_of(home)["facts"]["event_count"] == 6
    assert json.loads(receipts(home, "--json", "audit", db=db).stdout)["notes"] == []


def test_an_anchor_rewritten_without_the_key_is_refused(city: tuple[Path, str | None]) -> None:
    home, db = city
    data = anchor_of(home)
    data["facts"]["event_count"] = 2  # an insider with the files hides what came after
    (home / ANCHOR_FILE).write_text(json.dumps(data), encoding="ascii")
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    codes = [f["code"] for f in json.loads(report.stdout)["findings"]]
    assert codes == ["anchor-invalid"]
    refused = issue(home, db, "另一家公司")
    assert refused.exit_code == 1 and "not to be trusted" in refused.stderr


@pytest.mark.parametrize("city", ["sqlite"], indirect=True)
def test_a_payers_heads_must_be_signed_by_its_own_ledger_key(
    city: tuple[Path, str | None], tmp_path: Path
) -> None:
    home, _ = city
    payer, uscc = tmp_path / "payer", "91640100MA7600001J"
    made = receipts(payer, "init", "--payer", "--name", PAYERS[0], "--uscc", uscc)
    assert made.exit_code == 0, made.output
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes((home / "trust" / "bundle.pem").read_bytes())
    assert receipts(payer, "pki", "import-trust", str(bundle)).exit_code == 0
    code = json.loads(receipts(home, "--json", "stock", "list").stdout)[0]["segment"][:8]
    xml = tmp_path / "r1.xml"
    xml.write_bytes(receipts(home, "show", code, "1", "--xml").stdout_bytes)
    booked = receipts(payer, "book", str(xml), "--voucher", "记-1", "--by", "王会计")
    assert booked.exit_code == 0, booked.output
    assert receipts(payer, "audit").exit_code == 0
    lookalike = create_ledger_key(
        tmp_path / "fake.key", tmp_path / "fake.pem", uscc, PAYERS[0], "insider lookalike pass"
    )
    database = open_ledger(payer, None)
    with database.read() as session:
        for head in session.scalars(select(ChainHead)):
            head.certificate = lookalike.certificate_pem
            head.signature = lookalike.sign(head_message(uscc, head.event_count, head.head_hash))
        session.commit()
    database.dispose()
    report = receipts(payer, "--json", "audit")
    assert report.exit_code == 1, report.output
    codes = {f["code"] for f in json.loads(report.stdout)["findings"]}
    assert "head-invalid" in codes


def test_each_way_a_ledger_falls_behind_its_anchor(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=20)
    list(issue_batch(ledger_db, make_issuer(), [request(f"R{n}") for n in range(1, 4)]))
    with ledger_db.read() as session:
        session.add(
            Transmission(
                direction="out",
                peer="640000",
                digest="ab" * 32,
                created_at=datetime.now(UTC),
                first_seq=1,
                last_seq=2,
                head_hash="",
                receipts=1,
                total_fen=200_000,
                acknowledged_at=datetime.now(UTC),
            )
        )
        session.commit()
    with ledger_db.read() as session:
        state = session.get(LedgerState, 1)
        assert state is not None
        facts = ledger_facts(session, state)
        second = session.get(Event, 2)
        assert second is not None
        assert (facts.event_count, list(facts.numbers.values())) == (4, [3])
        assert facts.acknowledged == (2, second.hash)
        assert ledger_behind(session, facts, facts) == []
        longer = replace(facts, event_count=5)
        rewritten = replace(facts, head_hash="00" * 32)
        counted = replace(facts, numbers={code: n + 1 for code, n in facts.numbers.items()})
        acked = replace(facts, acknowledged=(2, "00" * 32))
        for anchored, words in (
            (longer, "its tail was cut"),
            (rewritten, "the chain was rewritten"),
            (counted, "it would be issued again"),
            (acked, "acknowledged by the tier above"),
        ):
            [problem] = ledger_behind(session, anchored, facts)
            assert words in problem
        # the ledger ahead of its anchor (a crash before the anchor's update) is not behind it
        third = session.get(Event, 3)
        assert third is not None
        earlier = replace(facts, event_count=3, head_hash=third.hash)
        assert ledger_behind(session, earlier, facts) == []


def test_own_certificates_keep_their_history(tmp_path: Path) -> None:
    ws = federation(tmp_path / "yinchuan", "640100")
    signers = tier_pki().signers
    first, renewed, other = (signers[o].certificate for o in ("640100", "640104", "640000"))
    assert [own.certificate for own in own_certificates(ws)] == [first]
    # a renewal retires the old certificate file; the import records the new certificate
    (ws.certs_dir / "signing.pem").rename(ws.certs_dir / "signing.pem.20260101.old")
    (ws.certs_dir / "signing.pem").write_bytes(renewed.public_bytes(Encoding.PEM))
    recorded = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    record_own_certificate(ws, renewed, recorded)
    record_own_certificate(ws, renewed, recorded)  # once only
    owned = {own.certificate: own for own in own_certificates(ws)}
    assert set(owned) == {first, renewed} and other not in owned
    assert owned[renewed].since == recorded and not owned[renewed].self_signed
    assert owned[first].since == first.not_valid_before_utc
    record = json.loads((ws.certs_dir / "own-certificates.json").read_text(encoding="ascii"))
    assert len(record["certificates"]) == 1


def test_an_auditor_checks_against_their_own_trust_bundle(
    city: tuple[Path, str | None], tmp_path: Path
) -> None:
    """An insider with the workspace's files can add a root to its bundle: ``audit --trust``
    takes the auditor's own copy instead, and nothing chains to a root it does not hold."""
    home, db = city
    national = tmp_path / "national.pem"
    national.write_bytes(tier_pki().bundle.to_pem())
    assert receipts(home, "audit", "--trust", str(national), db=db).exit_code == 0
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_bytes(build_pki().bundle.to_pem())  # another hierarchy, same names
    report = receipts(home, "--json", "audit", "--trust", str(elsewhere), db=db)
    assert report.exit_code == 1, report.output
    codes = {f["code"] for f in json.loads(report.stdout)["findings"]}
    assert {"head-invalid", "receipt-signature-invalid"} <= codes, report.stdout
