"""Archives carry the time-stamped receipts (XAdES-T) and give the tokens back on restore
(docs/formats.md, "Archives and time-stamps"): issue, stamp, archive, check with the README's
generic tools, verify, restore into an empty ledger (SQLite and PostgreSQL) with the receipts as
issued and the tokens beside them; a tampered token, or one that belongs to another receipt, is
refused and nothing is restored."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from receipts.archive.restore import restore_archives
from receipts.archive.restore_timestamps import archived_receipt
from receipts.errors import InvalidInput
from receipts.issuing.issue import IssueOutcome, issue_batch
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import Event, ReceiptRow
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from receipts.support.safezip import write_zip
from receipts.tsa.authority import serial_log
from receipts.tsa.stamping import local_stamper, stamp_receipts, stamped_xml
from receipts.verify.receipt import verify_receipt_xml
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from signing.xades_t import add_signature_timestamp, split_signature_timestamp
from tests.support.archive_readme import run_readme, unpack
from tests.support.ledger import fixed_clock, make_issuer, month_start, request
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ok, receipts, stocked_city

_A = "{urn:union-dues-receipt:archive:1}"


@dataclass(frozen=True)
class Stamped:
    """The archived workspace and what the test knows of it."""

    home: Path
    tmp: Path
    zip: Path
    stamped: IssueOutcome
    plain: IssueOutcome
    rows: dict[tuple[str, int], bytes]
    token: bytes
    stamp_time: datetime


@pytest.fixture(scope="module")
def stamped_archive(tmp_path_factory: pytest.TempPathFactory) -> Stamped:
    """640100's month A archived: S1 time-stamped an hour after it was issued, U1 without."""
    tmp = tmp_path_factory.mktemp("stamped-archive")
    a = month_start(2)
    home = stocked_city(tmp, (a.year,))
    db = Database(default_url(home))
    issuer = make_issuer(clock=fixed_clock(a))
    [stamped] = list(issue_batch(db, issuer, [request("S1", "100.00")]))
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(
        pki.prov_ca, pki.prov_ca_key, key.public_key(), now=a - timedelta(days=1)
    )
    stamp_time = a.astimezone(UTC) + timedelta(hours=1)
    authority = TimeStampAuthority(
        key, [cert, pki.prov_ca], record=serial_log(db), clock=lambda: stamp_time
    )
    keys = [(stamped.ref.code, stamped.ref.number)]
    outcome = stamp_receipts(
        db, local_stamper(authority), pki.validator(), pki.signers["640100"], keys
    )
    assert (outcome.stamped, outcome.left) == (1, 0)
    [plain] = list(issue_batch(db, issuer, [request("U1", "8.88")]))
    with db.read() as session:
        rows = {(r.code, r.number): r.xml for r in session.scalars(select(ReceiptRow))}
        token = session.scalars(select(ReceiptTimestampRow)).one().token
    db.dispose()
    ok(home, "period", "close", a.strftime("%Y-%m"))
    ok(home, "archive", "create", "--period", a.strftime("%Y-%m"), "-o", str(tmp / "a.zip"))
    return Stamped(home, tmp, tmp / "a.zip", stamped, plain, rows, token, stamp_time)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _member(outcome: IssueOutcome) -> str:
    ref = outcome.ref
    return f"receipts/{ref.code}-{ref.number:010d}.xml"


def test_the_archive_carries_the_stamped_receipt_and_the_issued_one_elsewhere(
    stamped_archive: Stamped,
) -> None:
    members = _members(stamped_archive.zip)
    rows = stamped_archive.rows
    s_ref = stamped_archive.stamped.ref
    u_ref = stamped_archive.plain.ref
    s_path, u_path = _member(stamped_archive.stamped), _member(stamped_archive.plain)
    issued, token = split_signature_timestamp(members[s_path])
    assert issued == rows[(s_ref.code, s_ref.number)] and token == stamped_archive.token
    assert members[u_path] == rows[(u_ref.code, u_ref.number)]
    # The metadata names the receipt as issued, which is the digest the ledger keeps.
    meta = etree.fromstring(members["metadata/" + s_path.removeprefix("receipts/")])
    assert meta.findtext(_A + "XmlSha256") == hashlib.sha256(issued).hexdigest()
    checked = verify_receipt_xml(members[s_path], tier_pki().validator())
    assert checked.valid, checked.findings
    assert checked.timestamped_at == stamped_archive.stamp_time
    report = json.loads(
        ok(stamped_archive.home, "--json", "archive", "verify", str(stamped_archive.zip))
    )
    assert [(r["ok"], r["receipts"], r["timestamped"]) for r in report] == [(True, 2, 1)]


def test_the_readme_commands_pass_on_a_stamped_archive(
    stamped_archive: Stamped, tmp_path: Path
) -> None:
    folder = unpack(stamped_archive.zip, tmp_path / "unpacked")
    assert b"SignatureTimeStamp" in (folder / _member(stamped_archive.stamped)).read_bytes()
    run = run_readme(folder)
    assert run.returncode == 0, run.stdout + run.stderr
    for said in [
        "files: all match SHA256SUMS",
        "manifest: signature verified",
        "receipts: all signatures verified",
        "pdf: all signatures valid",
        "pdf: every attachment is its receipt",
    ]:
        assert said in run.stdout, run.stdout + run.stderr
    # The attachment check still catches a PDF that carries another receipt than the file's.
    s_path, u_path = _member(stamped_archive.stamped), _member(stamped_archive.plain)
    swapped = unpack(stamped_archive.zip, tmp_path / "swapped")
    (swapped / s_path).write_bytes((folder / u_path).read_bytes())
    run = run_readme(swapped)
    pdf = "pdf/" + s_path.removeprefix("receipts/").replace(".xml", ".pdf")
    assert f"FAILED: {pdf}" in run.stdout, run.stdout


def test_restore_keeps_the_receipts_as_issued_and_the_tokens_beside_them(
    stamped_archive: Stamped, ledger_url: str, tmp_path: Path
) -> None:
    archive = stamped_archive.zip
    result = restore_archives(
        [(archive.name, archive.read_bytes())], tmp_path / "r", tier_pki().bundle, ledger_url
    )
    assert result.receipts == 2
    db = Database(ledger_url)
    try:
        with db.read() as session:
            rows = {
                (r.code, r.number): (r.xml, r.digest) for r in session.scalars(select(ReceiptRow))
            }
            tokens = list(session.scalars(select(ReceiptTimestampRow)))
            kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.seq))]
    finally:
        db.dispose()
    original = stamped_archive.rows
    assert {k: xml for k, (xml, _) in rows.items()} == original
    assert all(digest == hashlib.sha256(xml).hexdigest() for xml, digest in rows.values())
    s_ref = stamped_archive.stamped.ref
    assert [(t.code, t.number, t.token) for t in tokens] == [
        (s_ref.code, s_ref.number, stamped_archive.token)
    ]
    assert tokens[0].gen_time == stamped_archive.stamp_time
    assert kinds.count("receipt.timestamped") == 1
    assert kinds.index("receipt.timestamped") > kinds.index("receipt.restored")
    again = stamped_xml(rows[(s_ref.code, s_ref.number)][0], tokens[0].token)
    checked = verify_receipt_xml(again, tier_pki().validator())
    assert checked.valid and checked.timestamped_at == stamped_archive.stamp_time


def test_the_restored_workspace_audits_clean(stamped_archive: Stamped) -> None:
    target = stamped_archive.tmp / "restored"
    ok(
        stamped_archive.home,
        "archive",
        "restore",
        str(stamped_archive.zip),
        "--into",
        str(target),
    )
    assert receipts(target, "audit").exit_code == 0


def _with_token(xml: bytes, token: bytes) -> bytes:
    issued, old = split_signature_timestamp(xml)
    assert old is not None
    return add_signature_timestamp(issued, token)


def test_a_tampered_token_is_refused_and_nothing_is_restored(
    stamped_archive: Stamped, tmp_path: Path
) -> None:
    archive = stamped_archive.zip
    members = _members(archive)
    s_path = _member(stamped_archive.stamped)
    token = bytearray(stamped_archive.token)
    token[len(token) // 2] ^= 0x01
    members[s_path] = _with_token(members[s_path], bytes(token))
    bad = tmp_path / "tampered.zip"
    bad.write_bytes(write_zip(members))
    home = stamped_archive.home
    checked = receipts(home, "archive", "verify", str(bad))
    assert checked.exit_code == 1
    assert f"{s_path}: the time-stamp" in checked.stdout or "timestamp-invalid" in checked.stdout
    target = tmp_path / "restored"
    refused = receipts(home, "archive", "restore", str(bad), "--into", str(target))
    assert refused.exit_code == 2, refused.output
    assert "nothing was restored" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert not target.exists()


def test_a_token_of_another_receipt_is_refused_by_the_restore_itself(
    stamped_archive: Stamped,
) -> None:
    # Even past the archive's own checks: the restore keeps a token only over its receipt's
    # signature value.
    members = _members(stamped_archive.zip)
    u_path = _member(stamped_archive.plain)
    borrowed = add_signature_timestamp(members[u_path], stamped_archive.token)
    validator = tier_pki().validator()
    with pytest.raises(InvalidInput, match=rf"a\.zip: {u_path}: its time-stamp token is refused"):
        archived_receipt(borrowed, validator, "a.zip", u_path)
    kept = archived_receipt(members[_member(stamped_archive.stamped)], validator, "a.zip", "x")
    assert kept.token == stamped_archive.token and kept.check is not None
    assert kept.digest == hashlib.sha256(kept.xml).hexdigest()
    plain = archived_receipt(members[u_path], validator, "a.zip", u_path)
    assert (plain.xml, plain.token) == (members[u_path], None)


def test_archive_verify_takes_the_tolerance_of_the_workspace_or_the_option(
    stamped_archive: Stamped,
) -> None:
    # The receipt was time-stamped an hour after it claims to have been signed.
    home, archive = stamped_archive.home, str(stamped_archive.zip)
    tight = receipts(home, "--json", "archive", "verify", archive, "--tolerance-hours", "0.5")
    assert tight.exit_code == 1, tight.output
    codes = [f["code"] for f in json.loads(tight.stdout)[0]["findings"]]
    assert codes == ["signing-time-backdated"]
    config = home / "receipts.toml"
    saved = config.read_text("utf-8")
    try:
        config.write_text(saved + "\n[tsa]\ntolerance_hours = 0.5\n", "utf-8")
        assert receipts(home, "archive", "verify", archive).exit_code == 1
        wide = receipts(home, "archive", "verify", archive, "--tolerance-hours", "2")
        assert wide.exit_code == 0, wide.output
    finally:
        config.write_text(saved, "utf-8")
    bad = receipts(home, "archive", "verify", archive, "--tolerance-hours", "-1")
    assert bad.exit_code == 2 and len(bad.stderr.splitlines()) == 1, bad.output


def test_detaching_a_year_compares_the_receipts_as_issued(stamped_archive: Stamped) -> None:
    # ledger detach-year holds each receipt of the year against the archives: a time-stamped
    # one by its digest as issued, not by the manifest's hash of the stamped file.
    from receipts.archive.detach import archived_receipts

    archive = stamped_archive.zip
    held, _ = archived_receipts([(archive.name, archive.read_bytes())], tier_pki().bundle)
    expected = {key: hashlib.sha256(xml).hexdigest() for key, xml in stamped_archive.rows.items()}
    assert held == expected
