"""Tier reconciliation through the ledger (SQLite and PostgreSQL) and the CLI: signed summaries,
requests, the two-round exchange naming a withheld receipt. Reading the ledger block by block is
tested in test_reconcile_block_reader.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import delete, update

from receipts.domain.money import from_fen
from receipts.domain.signed_documents import InvalidSignedDocument
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.ledger.models import Event, ReceiptRow
from receipts.reconcile.block_reader import ledger_blocks
from receipts.reconcile.blocks import Block, BlockKey
from receipts.reconcile.exchange import Summary
from receipts.reconcile.summary_file import (
    RECONCILIATION_NS,
    read_request,
    read_summary,
    summary_element,
)
from receipts.reconcile.tiers import make_summary, reconcile_tiers
from tests.support.postgres import PgSchemas
from tests.support.reconcile import AT, CODE, add_receipts, row
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, receipts


@pytest.fixture
def other_db(
    ledger_db: Database, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Database]:
    """A second ledger (640000's) on the same back end as ``ledger_db``."""
    if ledger_db.is_sqlite:
        url = f"sqlite:///{tmp_path / 'province.sqlite'}"
    else:
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        url = schemas.new()
    db = Database(url)
    initialise(db, "640000")
    yield db
    db.dispose()


def test_summary_is_signed_verified_and_recorded(ledger_db: Database) -> None:
    pki = tier_pki()
    add_receipts(ledger_db, [row(n) for n in range(1, 2100)])
    result = make_summary(ledger_db, pki.signers["640000"], ["640100"])
    summary, problems = read_summary(result.document, pki.validator())
    assert problems == [] and summary.root == result.summary.root
    assert (summary.org, summary.issuers, len(summary.blocks)) == ("640000", ("640100",), 3)
    assert result.receipts == 2099
    root = etree.fromstring(result.document)
    ns = {"r": "urn:union-dues-receipt:reconciliation:1"}
    assert root.findtext("r:Root", namespaces=ns) == summary.root
    assert root.find("r:Series", ns).get("receipts") == "2099"  # type: ignore[union-attr]
    with ledger_db.read() as session:
        event = session.query(Event).order_by(Event.seq.desc()).first()
    assert event is not None and event.kind == "reconcile.summary"
    assert json.loads(event.payload)["root"] == summary.root
    tampered = result.document.replace(b'count="1023"', b'count="1022"', 1)
    with pytest.raises(InvalidSignedDocument):
        read_summary(tampered, pki.validator())


def test_a_county_may_not_state_its_citys_receipts(ledger_db: Database) -> None:
    add_receipts(ledger_db, [row(1)])
    result = make_summary(ledger_db, tier_pki().signers["640104"], ["640100"])
    with pytest.raises(InvalidSignedDocument, match="640104 may not state 640100's receipts"):
        read_summary(result.document, tier_pki().validator())


def test_two_rounds_through_two_ledgers(ledger_db: Database, other_db: Database) -> None:
    """The city (ledger_db) summarises; the province (other_db) lacks one receipt, holds one
    the city has not, and one with another amount."""
    pki = tier_pki()
    city, province = pki.signers["640100"], pki.signers["640000"]
    add_receipts(ledger_db, [row(n) for n in range(1, 3000)])
    add_receipts(other_db, [row(n) for n in range(1, 3000) if n != 1500] + [row(3100)])
    with other_db.engine.begin() as conn:
        conn.execute(update(ReceiptRow).where(ReceiptRow.number == 7).values(total_fen=1))
    first = make_summary(ledger_db, city)
    tiers = reconcile_tiers(other_db, first.document, pki.validator(), "640000", province)
    c = tiers.comparison
    assert (c.blocks_theirs, c.blocks_ours, c.blocks_agreeing) == (3, 4, 1)
    assert [(f.code, f.number) for f in c.findings] == [
        (FindingCode.BLOCK_DIFFERS, None),
        (FindingCode.BLOCK_DIFFERS, None),
        (FindingCode.TIER_EXTRA, 3100),
    ]
    assert tiers.request is not None
    to, scope, blocks, _, size = read_request(tiers.request)
    # blocks 0 and 1 differ; block 3 (3100) is only here: named at once, and asked for too
    assert (to, scope, [b.key.index for b in blocks]) == ("640100", ("640100",), [0, 1, 3])
    assert size == first.summary.block_size == 1024
    answer = make_summary(ledger_db, city, request=tiers.request)
    assert answer.requested == 3 and len(answer.summary.listings) == 3
    # the answer states only the requested blocks, block 3 empty (count 0)
    assert [(b.key.index, b.count) for b in answer.summary.blocks] == [(0, 1023), (1, 1024), (3, 0)]
    assert answer.summary.answering == first.summary.root
    second = reconcile_tiers(other_db, answer.document, pki.validator(), "640000", province)
    findings = [(f.code, f.number) for f in second.comparison.findings]
    assert findings == [
        (FindingCode.TIER_DIFFERING, 7),
        (FindingCode.TIER_MISSING, 1500),
        (FindingCode.TIER_EXTRA, 3100),
    ]
    assert second.comparison.receipts_listed == 4 + 4 and second.request is None  # 4-7, 1500-1503
    differing = second.comparison.findings[0]
    assert differing.there and differing.here and differing.here.total == from_fen(1)
    # settle the differences: both sides agree, roots equal
    add_receipts(other_db, [row(1500)])
    with other_db.engine.begin() as conn:
        conn.execute(delete(ReceiptRow).where(ReceiptRow.number == 3100))
        conn.execute(update(ReceiptRow).where(ReceiptRow.number == 7).values(total_fen=10_007))
    again = reconcile_tiers(other_db, first.document, pki.validator(), "640000", province)
    assert not again.comparison.discrepancies and again.our_root == first.summary.root


def test_the_block_size_grows_with_the_number_space(
    ledger_db: Database, other_db: Database
) -> None:
    """Numbers up to 9,000,000 would make 8,790 blocks of 1,024, over what a signed file holds
    (about 7,000): the summary takes blocks of 2,048, the request and answer keep them, and the
    two rounds still name exactly the differing receipts."""
    pki = tier_pki()
    city, province = pki.signers["640100"], pki.signers["640000"]
    far = [9_000_000, 9_000_001, 9_000_002]
    add_receipts(ledger_db, [row(n) for n in [*range(1, 3000), *far]])
    add_receipts(other_db, [row(n) for n in [*range(1, 3000), *far] if n != 1500] + [row(3100)])
    with other_db.engine.begin() as conn:
        changed = ReceiptRow.number.in_([7, 9_000_001])
        conn.execute(update(ReceiptRow).where(changed).values(total_fen=1))
    first = make_summary(ledger_db, city)
    assert first.summary.block_size == 2048
    assert [b.key.index for b in first.summary.blocks] == [0, 1, 9_000_000 // 2048]
    assert b"<BlockSize>2048</BlockSize>" in first.document
    tiers = reconcile_tiers(other_db, first.document, pki.validator(), "640000", province)
    assert tiers.request is not None and read_request(tiers.request).block_size == 2048
    answer = make_summary(ledger_db, city, request=tiers.request)
    assert answer.summary.block_size == 2048
    second = reconcile_tiers(other_db, answer.document, pki.validator(), "640000", province)
    assert [(f.code, f.number) for f in second.comparison.findings] == [
        (FindingCode.TIER_DIFFERING, 7),
        (FindingCode.TIER_MISSING, 1500),
        (FindingCode.TIER_EXTRA, 3100),
        (FindingCode.TIER_DIFFERING, 9_000_001),
    ]
    # parts of 4 slots still: one listed part per difference (3100 only here: none there)
    assert second.comparison.receipts_listed == 4 + 4 + 3 and second.request is None


def test_only_requested_blocks_are_read_and_answered(ledger_db: Database) -> None:
    other = "64710226"
    add_receipts(
        ledger_db, [row(n) for n in range(1, 5000)] + [row(n, "640104", other) for n in (7, 9)]
    )
    keys = [BlockKey("640100", CODE, 3), BlockKey("640100", CODE, 9), BlockKey("640104", other, 0)]
    with ledger_blocks(ledger_db, ["640100", "640104"], keys) as (_, blocks):
        read = sorted((b.key, len(b.numbers)) for b in blocks)
    assert read == [(keys[0], 1024), (keys[2], 2)]  # block 9 holds nothing: not yielded
    with ledger_blocks(ledger_db, ["640100"], keys[:1], totals=False) as (_, blocks):
        [block] = list(blocks)
    assert block.summary().total == from_fen(sum(10_000 + n % 977 for n in range(3072, 4096)))
    assert list(block.numbers) == list(range(3072, 4096))
    with pytest.raises(ValueError, match="without its receipts' totals"):
        block.fingerprints()


def test_an_empty_block_is_stated_only_in_an_answer(ledger_db: Database) -> None:
    pki = tier_pki()
    add_receipts(ledger_db, [row(1)])
    signer = pki.signers["640100"]
    empty = Block(BlockKey("640100", CODE, 4), [], b"", [])
    summary = Summary("640100", ("640100",), (empty.summary(),))
    document = signer.sign_document(summary_element(summary, AT, 0), AT)
    with pytest.raises(InvalidInput, match=r"block 4 .* is empty \(only an answer"):
        read_summary(document, pki.validator())
    answer = replace(summary, answering="ab" * 32)
    stated, problems = read_summary(
        signer.sign_document(summary_element(answer, AT, 0), AT), pki.validator()
    )
    assert problems == [] and stated.answering == "ab" * 32
    assert [(b.count, b.total) for b in stated.blocks] == [(0, from_fen(0))]


def test_a_request_for_blocks_outside_its_scope_is_refused(
    ledger_db: Database, other_db: Database
) -> None:
    pki = tier_pki()
    add_receipts(ledger_db, [row(n) for n in range(1, 100)])
    add_receipts(other_db, [row(n) for n in range(2, 100)])
    first = make_summary(ledger_db, pki.signers["640100"])
    tiers = reconcile_tiers(other_db, first.document, pki.validator(), "640000", None)
    assert tiers.request is not None
    forged = tiers.request.replace(b'<Block issuer="640100"', b'<Block issuer="640104"')
    with pytest.raises(InvalidInput, match="blocks of 640104, outside its own scope"):
        make_summary(ledger_db, pki.signers["640100"], request=forged)


def test_requests_are_checked(ledger_db: Database) -> None:
    with pytest.raises(InvalidInput, match="reconciliation request"):
        read_request(b"<ReconciliationRequest/>")
    add_receipts(ledger_db, [row(1)])
    other = make_summary(ledger_db, tier_pki().signers["640000"], ["640100"])
    with pytest.raises(InvalidInput, match="not a reconciliation request"):
        make_summary(ledger_db, tier_pki().signers["640100"], request=other.document)


# --- the command line ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def tiers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A city and a province workspace, with ledgers on one back end, holding the same 2,500
    synthetic receipts of the city except one the province never got."""
    out: dict[str, Any] = {}
    for name, org in (("city", "640100"), ("province", "640000")):
        home = tmp_path / name
        federation(home, org)
        url = default_url(home)
        if request.param == "postgresql":
            schemas: PgSchemas = request.getfixturevalue("pg_schemas")
            url = schemas.new()
        db = Database(url)
        initialise(db, org)
        withheld = 2222 if name == "province" else -1
        add_receipts(db, [row(n) for n in range(1, 2501) if n != withheld])
        db.dispose()
        out[name] = (home, None if request.param == "sqlite" else url)
    yield out


def test_cli_two_rounds_name_the_withheld_receipt(tiers: dict[str, Any], tmp_path: Path) -> None:
    (city, city_db), (province, province_db) = tiers["city"], tiers["province"]
    first = tmp_path / "city.xml"
    made = receipts(city, "reconcile", "summary", "-o", str(first), db=city_db)
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith(f"wrote {first} (")
    assert "2,500 receipt(s) in 3 block(s) of 640100" in made.stdout
    compared = receipts(province, "reconcile", "tiers", "--with", str(first), db=province_db)
    assert compared.exit_code == 1, compared.output
    assert "compared 3 block(s) of 640100 with 3 here: 2 agree" in compared.stdout
    request = tmp_path / "city.request.xml"
    assert f"request for 1 block(s) written to {request}" in compared.stdout
    answered = tmp_path / "city-2.xml"
    made = receipts(
        city, "reconcile", "summary", "--blocks", str(request), "-o", str(answered), db=city_db
    )
    assert made.exit_code == 0, made.output
    assert "listed 4 receipt(s) of 1 of the 1 requested block(s)" in made.stdout
    csv_path = tmp_path / "findings.csv"
    named = receipts(
        province,
        "--json",
        "reconcile",
        "tiers",
        "--with",
        str(answered),
        "--csv",
        str(csv_path),
        db=province_db,
    )
    assert named.exit_code == 1, named.output
    data = json.loads(named.stdout)
    assert [(f["kind"], f["receipt"]) for f in data["findings"]] == [
        ("missing", f"{CODE}-0000002222")
    ]
    assert data["request"] is None and data["receipts_listed"] == 4
    assert data["file_bytes"] == answered.stat().st_size
    first_root = etree.fromstring(first.read_bytes()).findtext(f"{{{RECONCILIATION_NS}}}Root")
    assert data["answers"] == first_root  # the file answers the first summary
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("kind,issuer,code,block,number,receipt,file_digest")
    assert lines[1].startswith(f"missing,640100,{CODE},2,2222,{CODE}-0000002222,")
    # the city compares the province's summary of the city's receipts: one extra there
    back = tmp_path / "province.xml"
    assert (
        receipts(
            province, "reconcile", "summary", "--issuer", "640100", "-o", str(back), db=province_db
        ).exit_code
        == 0
    )
    city_side = receipts(city, "reconcile", "tiers", "--with", str(back), db=city_db)
    assert city_side.exit_code == 1 and "request for 1 block(s)" in city_side.stdout
    # once the province holds 2222, the answer's one block agrees
    db = Database(province_db or default_url(province))
    add_receipts(db, [row(2222)])
    db.dispose()
    settled = receipts(province, "reconcile", "tiers", "--with", str(answered), db=province_db)
    assert settled.exit_code == 0, settled.output
    assert "OK: the 1 requested block(s) agree now" in settled.stdout


def test_cli_agreement_exits_0(tiers: dict[str, Any], tmp_path: Path) -> None:
    (city, city_db), (province, province_db) = tiers["city"], tiers["province"]
    first = tmp_path / "city.xml"
    assert receipts(city, "reconcile", "summary", "-o", str(first), db=city_db).exit_code == 0
    db = Database(province_db or default_url(province))
    add_receipts(db, [row(2222)])
    db.dispose()
    result = receipts(
        province, "reconcile", "tiers", "--with", str(first), "--json", db=province_db
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["agree"] is True
    bad = tmp_path / "bad.xml"
    bad.write_bytes(first.read_bytes().replace(b"<Org>640100</Org>", b"<Org>640104</Org>"))
    refused = receipts(province, "reconcile", "tiers", "--with", str(bad), db=province_db)
    assert refused.exit_code == 1 and refused.stderr.startswith("error: reconciliation summary:")
