"""Closed periods archived, verified, tampered with, and restored (issue 8)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.domain.model import ReceiptRef
from receipts.issuing.issue import issue_batch, reverse
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from receipts.ledger.queries import load_receipt
from receipts.support.safezip import write_zip
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, month_start, request
from tests.support.workspaces import federation, ok, receipts, stocked_city


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """640100 with two receipts in month A (archived), a reversal of one of them and two more
    receipts in month B (archived: main + supplement). Built once for the module: the tests
    only read the workspace and its archives, and write new files under other names."""
    tmp_path = tmp_path_factory.mktemp("archived")
    a, b = month_start(2), month_start(1)
    home = stocked_city(tmp_path, (a.year, b.year))
    db = Database(default_url(home))
    month_a, month_b = a.strftime("%Y-%m"), b.strftime("%Y-%m")
    first = list(
        issue_batch(
            db,
            make_issuer(clock=fixed_clock(a)),
            [request("A1", "100.00"), request("A2", "200.00")],
        )
    )
    ok(home, "period", "close", month_a)
    ok(home, "archive", "create", "--period", month_a, "-o", str(tmp_path / "a.zip"))
    issuer_b = make_issuer(clock=fixed_clock(b))
    reverse(db, issuer_b, first[0].ref, "开错了", "张晓梅", "李建国")
    list(issue_batch(db, issuer_b, [request("B1", "30.00"), request("B2", "40.00")]))
    ok(home, "period", "close", month_b)
    out = json.loads(
        ok(home, "--json", "archive", "create", "--period", month_b, "-o", str(tmp_path / "b.zip"))
    )
    db.dispose()
    return {"home": home, "tmp": tmp_path, "out": out, "first": first, "months": (month_a, month_b)}


def test_archives_verify_and_the_supplement_amends_the_earlier_one(
    archived: dict[str, object],
) -> None:
    home, tmp = archived["home"], archived["tmp"]
    assert isinstance(home, Path) and isinstance(tmp, Path)
    kinds = [(w["kind"], w["receipts"]) for w in archived["out"]]  # type: ignore[attr-defined]
    assert kinds == [("main", 3), ("supplementary", 1)]
    report = json.loads(
        ok(
            home,
            "--json",
            "archive",
            "verify",
            str(tmp / "a.zip"),
            str(tmp / "b.zip"),
            str(tmp / "b-supplement.zip"),
        )
    )
    assert [r["ok"] for r in report] == [True, True, True]
    assert [r["receipts"] for r in report] == [2, 3, 1]
    with zipfile.ZipFile(tmp / "b-supplement.zip") as z:
        meta = next(n for n in z.namelist() if n.startswith("metadata/"))
        assert b"<Status>reversed</Status>" in z.read(meta)
    first = archived["first"][0]  # type: ignore[index]
    db = Database(default_url(home))
    assert load_receipt(db, first.ref).status.value == "reversed"
    kept = load_receipt(db, archived["first"][1].ref)  # type: ignore[index]
    assert (kept.status.value, kept.here) == ("issued", "archived")
    db.dispose()
    assert receipts(home, "audit").exit_code == 0


def test_restore_gives_the_same_records(archived: dict[str, object]) -> None:
    home, tmp = archived["home"], archived["tmp"]
    assert isinstance(home, Path) and isinstance(tmp, Path)
    target = tmp / "restored"
    out = ok(
        home,
        "archive",
        "restore",
        str(tmp / "a.zip"),
        str(tmp / "b.zip"),
        str(tmp / "b-supplement.zip"),
        "--into",
        str(target),
    )
    assert out.startswith("restored 5 receipt(s) of 640100 from 3 archive(s)")

    def facts(where: Path) -> tuple[object, ...]:
        db = Database(default_url(where))
        with db.read() as session:
            digests = sorted(session.scalars(select(ReceiptRow.digest)))
            by_period = sorted(
                session.execute(
                    select(
                        ReceiptRow.period, func.count(), func.sum(ReceiptRow.total_fen)
                    ).group_by(ReceiptRow.period)
                ).all()
            )
            loaded = [
                load_receipt(db, ReceiptRef(r.code, r.number))
                for r in session.scalars(select(ReceiptRow))
            ]
            statuses = sorted((s.receipt.number, s.status.value, s.here) for s in loaded)
        db.dispose()
        return digests, by_period, statuses

    assert facts(target) == facts(home)
    assert receipts(target, "audit").exit_code == 0
    again = receipts(home, "archive", "restore", str(tmp / "a.zip"), "--into", str(target))
    assert again.exit_code == 2 and "already a workspace" in again.stderr


def test_restore_trusts_only_a_bundle_the_user_holds(archived: dict[str, object]) -> None:
    """The bundle an archive carries proves nothing on its own (anyone can write an archive under
    a root of their own naming itself the national federation): outside a workspace, restore
    needs --trust, and the restored workspace trusts what it was given."""
    home, tmp = archived["home"], archived["tmp"]
    assert isinstance(home, Path) and isinstance(tmp, Path)
    nowhere = tmp / "not-a-workspace"
    nowhere.mkdir(exist_ok=True)
    target = tmp / "restored-with-trust"
    refused = receipts(nowhere, "archive", "restore", str(tmp / "a.zip"), "--into", str(target))
    assert refused.exit_code == 2 and "give --trust FILE" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1 and not target.exists()
    bundle = home / "trust" / "bundle.pem"
    args = ("archive", "restore", str(tmp / "a.zip"), "--into", str(target), "--trust", str(bundle))
    assert ok(nowhere, *args).startswith("restored 2 receipt(s) of 640100")
    assert (target / "trust" / "bundle.pem").read_bytes() == bundle.read_bytes()


def test_the_archives_table_is_held_to_its_events(archived: dict[str, object]) -> None:
    """The rows say which months are archived (a receipt shows "archived", a month may not be
    reopened): an insider's edit of a row, or its deletion, is a finding."""
    import shutil

    from sqlalchemy import text

    home, tmp = archived["home"], archived["tmp"]
    assert isinstance(home, Path) and isinstance(tmp, Path)
    copy = tmp / "archives-edited"
    shutil.copytree(home, copy)
    db = Database(default_url(copy))
    with db.write() as (session, _):
        first = session.execute(text("SELECT min(id) FROM archives")).scalar_one()
        session.execute(text("UPDATE archives SET months = '2000-01' WHERE id = :i"), {"i": first})
    report = receipts(copy, "--json", "audit")
    assert report.exit_code == 1, report.output
    found = [f for f in json.loads(report.stdout)["findings"] if f["code"] == "archive-mismatch"]
    assert len(found) == 1 and "differs from its event" in found[0]["message"]
    with db.write() as (session, _):
        session.execute(text("DELETE FROM archives WHERE id = :i"), {"i": first})
    report = receipts(copy, "--json", "audit")
    found = [f for f in json.loads(report.stdout)["findings"] if f["code"] == "archive-mismatch"]
    assert len(found) == 1 and "which has no row" in found[0]["message"]
    db.dispose()


def _tampered(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(source) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name, content in change.items():
        if content is None:
            members.pop(name)
        else:
            members[name] = content
    target.write_bytes(write_zip(members))
    return target


def test_tampering_is_named(archived: dict[str, object]) -> None:
    home, tmp = archived["home"], archived["tmp"]
    assert isinstance(home, Path) and isinstance(tmp, Path)
    source = tmp / "b.zip"
    with zipfile.ZipFile(source) as z:
        names = z.namelist()
        xml = next(n for n in names if n.startswith("receipts/"))
        pdf = next(n for n in names if n.startswith("pdf/"))
        meta = next(n for n in names if n.startswith("metadata/"))
        content = {n: z.read(n) for n in names}

    def flip(data: bytes) -> bytes:
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]

    cases: dict[str, tuple[dict[str, bytes | None], str]] = {
        "flipped-xml": ({xml: flip(content[xml])}, f"{xml} does not match its SHA-256"),
        "flipped-pdf": ({pdf: flip(content[pdf])}, f"{pdf} does not match its SHA-256"),
        "flipped-metadata": ({meta: flip(content[meta])}, f"{meta} does not match its SHA-256"),
        "removed": ({pdf: None}, f"{pdf} is listed but missing"),
        "added": ({"pdf/extra.pdf": b"%PDF-1.7"}, "pdf/extra.pdf is not listed in the manifest"),
        "flipped-manifest": (
            {
                "manifest.xml": content["manifest.xml"].replace(
                    b'<Receipts count="3"', b'<Receipts count="4"'
                )
            },
            "digest-mismatch",
        ),
    }
    for name, (change, message) in cases.items():
        bad = _tampered(source, tmp / f"{name}.zip", change)
        result = receipts(home, "archive", "verify", str(bad))
        assert result.exit_code == 1, name
        assert message in result.stdout, (name, result.stdout)
    for evil in ("../escape.xml", "/etc/passwd"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for n, data in content.items():
                z.writestr(n, data)
            z.writestr(evil, b"x")
        path = tmp / "evil.zip"
        path.write_bytes(buffer.getvalue())
        result = receipts(home, "archive", "verify", str(path))
        assert result.exit_code == 1
        assert f"member path {evil!r} is not allowed" in result.stdout


def test_open_period_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    month = (datetime.now(SHANGHAI) - timedelta(days=40)).strftime("%Y-%m")
    result = receipts(home, "archive", "create", "--period", month, "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: period {month} is open: close it first (receipts period "
        f"close {month}); only closed periods are archived\n"
    )
    later = (datetime.now(SHANGHAI) + timedelta(days=40)).strftime("%Y-%m")
    future = receipts(home, "period", "close", later)
    assert future.exit_code == 2 and "has not begun yet" in future.stderr
