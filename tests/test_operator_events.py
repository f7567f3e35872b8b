"""Every event records its operator, hashed only when set (old chains keep verifying); audit
reports per operator; ``receipts log`` filters; the handler and reviewer of a receipt are two
different operators (docs/security.md, "Operators and key slots")."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from receipts.ledger.database import Database, default_url
from receipts.ledger.events import OPERATOR, append_event, canonical_json, event_hash, rfc3339
from receipts.ledger.models import Event, ReceiptRow
from tests.support.operators import as_operator, with_operators
from tests.support.postgres import PgSchemas
from tests.support.workspaces import federation, receipts

ISSUE = (
    "issue",
    "--payer-name",
    "宁夏贺兰山实业有限公司",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--item",
    "01:2026-10:2000.00",
)


def _stocked(tmp: Path, db: str | None = None) -> Path:
    prov, home = tmp / "prov", tmp / "yinchuan"
    federation(prov, "640000")
    with_operators(home, db=db)
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp / "alloc.xml"
    allocated = receipts(
        prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o", str(alloc)
    )
    assert allocated.exit_code == 0, allocated.output
    imported = as_operator(home, "李静", "stock", "import", str(alloc), db=db)
    assert imported.exit_code == 0, imported.output
    return home


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _stocked(tmp_path_factory.mktemp("events"))


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "yinchuan"
    shutil.copytree(built, target)
    return target


def _events(home: Path) -> list[Event]:
    db = Database(default_url(home))
    try:
        with db.read() as session:
            return list(session.scalars(select(Event).order_by(Event.seq)))
    finally:
        db.dispose()


def _error(result: object) -> str:
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return str(lines[0])


def test_handler_is_the_clerk_and_the_reviewer_another_operator(home: Path) -> None:
    done = as_operator(home, "张晓梅", "--json", *ISSUE, "--reviewer", "李建国")
    assert done.exit_code == 0, done.output
    db = Database(default_url(home))
    with db.read() as session:
        xml = session.scalars(select(ReceiptRow.xml)).one().decode("utf-8")
    db.dispose()
    assert "<Handler>张晓梅</Handler>" in xml and "<Reviewer>李建国</Reviewer>" in xml
    issued = [e for e in _events(home) if e.kind == "receipt.issued"]
    assert [e.operator for e in issued] == ["张晓梅"]


@pytest.mark.parametrize(
    ("who", "extra", "message"),
    [
        (
            "张晓梅",
            ("--reviewer", "张晓梅"),
            "error: reviewer must be an operator other than the handler 张晓梅",
        ),
        (
            "张晓梅",
            ("--reviewer", "李静"),
            "error: 李静 is an admin; acting as reviewer needs a reviewer",
        ),
        (
            "张晓梅",
            ("--reviewer", "刘洋"),
            "error: 刘洋 is a clerk; acting as reviewer needs a reviewer",
        ),
        (
            "张晓梅",
            ("--reviewer", "赵六"),
            "error: reviewer 赵六 is not an operator of this workspace",
        ),
        (
            "张晓梅",
            ("--reviewer", "李建国", "--handler", "刘洋"),
            "error: the handler (开票人) is the operator who issues, 张晓梅, not 刘洋",
        ),
        (
            "王芳",
            ("--reviewer", "李建国"),
            "error: 王芳 is an auditor; issuing receipts needs a clerk",
        ),
        (
            "李建国",
            ("--reviewer", "李建国"),
            "error: 李建国 is a reviewer; issuing receipts needs a clerk",
        ),
    ],
)
def test_issuing_refusals_name_the_rule(
    home: Path, who: str, extra: tuple[str, ...], message: str
) -> None:
    before = len(_events(home))
    result = as_operator(home, who, *ISSUE, *extra)
    assert result.exit_code == 2
    assert _error(result) == message
    assert len(_events(home)) == before


def test_every_event_records_its_operator_and_the_operator_is_hashed(home: Path) -> None:
    events = _events(home)
    assert [(e.kind, e.operator) for e in events[:2]] == [
        ("operator.added", None),  # the first admin, added in legacy mode
        ("operator.added", "李静"),
    ]
    assert events[-1].kind == "stock.imported" and events[-1].operator == "李静"
    # Changing who wrote an event breaks its hash: audit says so.
    db = Database(default_url(home))
    with db.engine.begin() as conn:
        conn.execute(update(Event).where(Event.seq == events[-1].seq).values(operator="刘洋"))
    db.dispose()
    audit = as_operator(home, None, "--json", "audit")
    assert audit.exit_code == 1
    assert next(f["code"] for f in json.loads(audit.stdout)["findings"]) == "event-altered"


def test_an_event_without_operator_hashes_as_before() -> None:
    """The hashed body of an event without operator is byte for byte the old one, so every
    chain written before operators (and in legacy workspaces) keeps verifying."""
    payload = canonical_json({"code": "640104"})
    old_body = canonical_json(
        {
            "at": "2026-10-01T00:00:00Z",
            "kind": "org.added",
            "payload": {"code": "640104"},
            "prev": "0" * 64,
            "seq": 1,
        }
    )
    old = hashlib.sha256(old_body.encode()).hexdigest()
    assert event_hash("0" * 64, 1, "2026-10-01T00:00:00Z", "org.added", payload) == old
    assert event_hash("0" * 64, 1, "2026-10-01T00:00:00Z", "org.added", payload, "张晓梅") != old


def test_the_operator_comes_from_the_write_session(ledger_db: Database) -> None:
    """One place: the command layer's authorise hook; the ledger puts it on every event."""
    ledger_db.authorise = lambda: "张晓梅"
    with ledger_db.write() as (session, state):
        assert session.info[OPERATOR] == "张晓梅"
        event = append_event(session, state, "test.kind", {"n": 1})
    assert event.operator == "张晓梅"
    expected = event_hash(
        event.prev_hash, 1, rfc3339(event.at), "test.kind", event.payload, "张晓梅"
    )
    assert event.hash == expected
    ledger_db.authorise = None
    with ledger_db.write() as (session, state):
        second = append_event(session, state, "test.kind", {"n": 2})
    assert second.operator is None


def test_audit_reports_events_per_operator_and_kind(home: Path) -> None:
    assert as_operator(home, "张晓梅", *ISSUE, "--reviewer", "李建国").exit_code == 0
    assert as_operator(home, "刘洋", *ISSUE, "--reviewer", "李建国").exit_code == 0
    result = as_operator(home, "王芳", "--json", "audit")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["operators"]
    assert report["张晓梅"] == {"receipt.issued": 1}
    assert report["刘洋"] == {"receipt.issued": 1}
    assert report["李静"] == {"operator.added": 4, "stock.imported": 1}
    assert report["-"] == {"operator.added": 1}
    human = as_operator(home, None, "audit").stdout
    assert "by 张晓梅: receipt.issued 1" in human


def test_log_filters_by_operator_kind_and_day(home: Path) -> None:
    assert as_operator(home, "张晓梅", *ISSUE, "--reviewer", "李建国").exit_code == 0
    by_clerk = json.loads(as_operator(home, None, "log", "--operator", "张晓梅", "--json").stdout)
    assert [(e["operator"], e["kind"]) for e in by_clerk] == [("张晓梅", "receipt.issued")]
    added = json.loads(as_operator(home, None, "log", "--kind", "operator.", "--json").stdout)
    assert [e["payload"]["name"] for e in added] == ["李静", "张晓梅", "刘洋", "李建国", "王芳"]
    none = json.loads(as_operator(home, None, "log", "--operator", "-", "--json").stdout)
    assert [e["kind"] for e in none] == ["operator.added"]
    future = as_operator(home, None, "log", "--since", "2999-01-01")
    assert future.stdout.strip() == "no events"
    past = json.loads(as_operator(home, None, "log", "--until", "2000-01-01", "--json").stdout)
    assert past == []
    bad = as_operator(home, None, "log", "--since", "yesterday")
    assert _error(bad) == "error: --since 'yesterday' is not a day (YYYY-MM-DD)"
    table = as_operator(home, None, "log", "--operator", "张晓梅").stdout
    assert "张晓梅" in table and "receipt.issued" in table


def test_operators_on_postgresql(pg_schemas: PgSchemas, tmp_path: Path) -> None:
    """The same rules with the ledger in PostgreSQL."""
    db = pg_schemas.new()
    home = _stocked(tmp_path, db)
    refused = as_operator(home, "张晓梅", *ISSUE, "--reviewer", "张晓梅", db=db)
    assert _error(refused) == "error: reviewer must be an operator other than the handler 张晓梅"
    done = as_operator(home, "张晓梅", *ISSUE, "--reviewer", "李建国", db=db)
    assert done.exit_code == 0, done.output
    audit = as_operator(home, "王芳", "--json", "audit", db=db)
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["operators"]["张晓梅"] == {"receipt.issued": 1}
    log = json.loads(as_operator(home, None, "log", "--operator", "李静", "--json", db=db).stdout)
    assert [e["kind"] for e in log] == ["operator.added"] * 4 + ["stock.imported"]


def test_a_package_carries_each_events_operator_and_the_tier_above_checks_it(
    ledger_db: Database,
) -> None:
    """The chain fragment of a transmission keeps the operator, hashed: a package whose
    operator was changed on the way is refused (the demo sends one up for real)."""
    from datetime import UTC, datetime

    from receipts.ledger.migrate import GENESIS_HASH
    from receipts.transmission.chain_fragment import check_event_fragment, events_jsonl
    from receipts.transmission.package import Manifest, RefusedPackage

    with ledger_db.write() as (session, state):
        append_event(session, state, "org.added", {"code": "640104"})
    ledger_db.authorise = lambda: "张晓梅"
    with ledger_db.write() as (session, state):
        append_event(session, state, "org.added", {"code": "640105"})
    with ledger_db.read() as session:
        events = list(session.scalars(select(Event).order_by(Event.seq)))
    data = events_jsonl(events)
    lines = data.decode("utf-8").splitlines()
    assert '"operator"' not in lines[0] and '"operator":"张晓梅"' in lines[1]
    manifest = Manifest(
        "640100", "640000", datetime.now(UTC), 1, 2, events[-1].hash, "", {}, (), {}, ""
    )
    assert events[0].prev_hash == GENESIS_HASH
    assert len(check_event_fragment(data, manifest, None, "p.zip")) == 2
    forged = data.replace("张晓梅".encode(), "刘洋".encode())
    with pytest.raises(RefusedPackage, match="broken at event 2"):
        check_event_fragment(forged, manifest, None, "p.zip")


CSV_HEADER = (
    "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
)


def test_batch_rows_follow_the_same_rule_every_bad_row_reported(home: Path, tmp_path: Path) -> None:
    rows = [
        "B1,甲公司,enterprise,91640100MA7600001J,02,2026-10,100.00,张晓梅,李建国",
        "B2,乙公司,enterprise,91640100MA7600001J,02,2026-10,200.00,张晓梅,张晓梅",
        "B3,丙公司,enterprise,91640100MA7600001J,02,2026-10,300.00,刘洋,李建国",
    ]
    batch = tmp_path / "november.csv"
    batch.write_text(CSV_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    before = len(_events(home))
    refused = as_operator(home, "张晓梅", "issue", "--batch", str(batch))
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {batch}:3: reviewer must be an operator other than the handler 张晓梅",
        f"error: {batch}:4: the handler (开票人) is the operator who issues, 张晓梅, not 刘洋",
        f"error: 2 row(s) of {batch} break the two-person rule; nothing was issued from it",
    ]
    assert len(_events(home)) == before
    batch.write_text(CSV_HEADER + rows[0] + "\n", encoding="utf-8")
    done = as_operator(home, "张晓梅", "--json", "issue", "--batch", str(batch))
    assert done.exit_code == 0, done.output
    issued = [e for e in _events(home) if e.kind == "receipt.issued"]
    assert [e.operator for e in issued] == ["张晓梅"]
