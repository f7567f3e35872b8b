"""``period close`` of the running month needs ``--force``; ``period reopen MONTH --reason`` is an
event, refused for an archived month; audit re-derives the closed months from closes and
reopens; a reopened and re-closed month archives and verifies like any other."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.issuing.issue import PeriodClosed, issue_batch
from receipts.ledger.database import Database, default_url
from receipts.ledger.events import append_event
from receipts.ledger.models import Event, PeriodClose
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, month_start, request
from tests.support.workspaces import federation, ok, receipts


def event_count(home: Path) -> int:
    db = Database(default_url(home))
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(Event))
    db.dispose()
    return int(count or 0)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """640100, stocked for the year of two months ago, with receipt A1 issued then."""
    prov, home = tmp_path / "prov", tmp_path / "yc"
    federation(prov, "640000")
    federation(home, "640100")
    ok(prov, "org", "add", "--code", "640100")
    year = str(month_start(2).year)
    alloc = tmp_path / "alloc.xml"
    ok(
        prov,
        "stock",
        "allocate",
        "--to",
        "640100",
        "--count",
        "20",
        "--year",
        year,
        "-o",
        str(alloc),
    )
    ok(home, "stock", "import", str(alloc))
    db = Database(default_url(home))
    list(issue_batch(db, make_issuer(clock=fixed_clock(month_start(2))), [request("A1", "100.00")]))
    db.dispose()
    return home


def test_close_refuses_the_running_month_unless_forced(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    running = datetime.now(SHANGHAI).strftime("%Y-%m")
    assert ok(home, "period", "list") == "none closed\n"
    before = event_count(home)
    refused = receipts(home, "period", "close", running)
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"error: period {running} is the running month: receipts may still be issued into it; "
        "close it with --force (on its last day, say)\n",
    )
    assert event_count(home) == before
    assert ok(home, "period", "list") == "none closed\n"
    assert ok(home, "period", "close", running, "--force") == f"closed {running}\n"
    assert ok(home, "period", "close", running) == f"{running} was closed already\n"


def test_reopen_is_an_event_then_issue_close_and_archive(city: Path, tmp_path: Path) -> None:
    month = month_start(2).strftime("%Y-%m")
    ok(city, "period", "close", month)
    db = Database(default_url(city))
    late = make_issuer(clock=fixed_clock(month_start(2)))
    with pytest.raises(PeriodClosed):
        list(issue_batch(db, late, [request("A2", "200.00")]))
    out = ok(city, "period", "reopen", month, "--reason", "补开漏开收据")
    assert out == f"reopened {month}: 补开漏开收据\n"
    with db.read() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
        assert event is not None and event.kind == "period.reopened"
        assert json.loads(event.payload) == {"period": month, "reason": "补开漏开收据"}
    listed = json.loads(ok(city, "--json", "period", "list"))
    assert listed == [{"period": month, "status": "reopened", "closed_at": None, "reopens": None}]
    list(issue_batch(db, late, [request("A2", "200.00")]))  # the late receipt, in its month
    db.dispose()
    ok(city, "period", "close", month)
    [entry] = json.loads(ok(city, "--json", "period", "list"))
    assert (entry["status"], entry["reopens"]) == ("closed", 1)
    assert receipts(city, "audit").exit_code == 0
    target = tmp_path / "a.zip"
    [made] = json.loads(
        ok(city, "--json", "archive", "create", "--period", month, "-o", str(target))
    )
    assert (made["kind"], made["receipts"]) == ("main", 2)
    [report] = json.loads(ok(city, "--json", "archive", "verify", str(target)))
    assert (report["ok"], report["receipts"]) == (True, 2)
    with zipfile.ZipFile(target) as z:
        assert len([n for n in z.namelist() if n.startswith("receipts/")]) == 2
    assert receipts(city, "audit").exit_code == 0


def test_reopen_refused_once_archived(city: Path, tmp_path: Path) -> None:
    month = month_start(2).strftime("%Y-%m")
    ok(city, "period", "close", month)
    ok(city, "archive", "create", "--period", month, "-o", str(tmp_path / "a.zip"))
    before = event_count(city)
    refused = receipts(city, "period", "reopen", month, "--reason", "补开")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: period {month} is archived ({month}, archive ")
    assert refused.stderr.endswith(
        "and is never reopened: correct it with a red receipt in the running month, "
        "whose archive adds a supplementary package\n"
    )
    assert refused.stderr.count("\n") == 1
    assert event_count(city) == before
    assert json.loads(ok(city, "--json", "period", "list"))[0]["status"] == "closed"


# One case per rule of ``period reopen`` (the bad-input corpus of this command).
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["2026-13", "--reason", "x"],
            "error: period '2026-13' must be a month, YYYY-MM\n",
            id="reopen-not-a-month",
        ),
        pytest.param(
            ["{open}", "--reason", "x"],
            "error: period {open} is not closed; there is nothing to reopen\n",
            id="reopen-not-closed",
        ),
        pytest.param(
            ["{closed}", "--reason", "x" * 201],
            "error: reason must be 1-200 characters, not 201\n",
            id="reopen-reason-too-long",
        ),
        pytest.param(
            ["{closed}", "--reason", " 补开"],
            "error: reason must not begin or end with spaces\n",
            id="reopen-reason-spaces",
        ),
    ],
)
def test_reopen_refusals(city: Path, args: list[str], message: str) -> None:
    closed, open_ = month_start(2).strftime("%Y-%m"), month_start(1).strftime("%Y-%m")
    ok(city, "period", "close", closed)
    before = event_count(city)
    filled = [a.format(open=open_, closed=closed) for a in args]
    result = receipts(city, "period", "reopen", *filled)
    assert (result.exit_code, result.stderr) == (2, message.format(open=open_, closed=closed))
    assert event_count(city) == before


def test_reopen_needs_a_reason(city: Path) -> None:
    result = receipts(city, "period", "reopen", month_start(2).strftime("%Y-%m"))
    assert result.exit_code == 2 and "Missing option '--reason'" in result.output


def audit_codes(home: Path) -> list[tuple[str, str]]:
    result = receipts(home, "--json", "audit")
    findings = json.loads(result.stdout)["findings"]
    return [(f["code"], f["message"]) for f in findings if f["code"] == "period-mismatch"]


def test_audit_replays_closes_and_reopens(city: Path) -> None:
    month = month_start(2).strftime("%Y-%m")
    ok(city, "period", "close", month)
    ok(city, "period", "reopen", month, "--reason", "补开")
    assert audit_codes(city) == []
    # An insider puts the close row back without a close event: the log says the month is open.
    db = Database(default_url(city))
    with db.write() as (session, _):
        first_close = session.scalars(select(Event.seq).where(Event.kind == "period.closed")).one()
        session.add(
            PeriodClose(period=month, closed_at=datetime.now(SHANGHAI), event_seq=first_close)
        )
    assert audit_codes(city) == [
        ("period-mismatch", f"closed periods ['{month}'] differ from the events []")
    ]
    # Closed again properly, the row must name the new close event, not the first one.
    with db.write() as (session, _):
        session.delete(session.get(PeriodClose, month))
    ok(city, "period", "close", month)
    assert audit_codes(city) == []
    with db.write() as (session, _):
        row = session.get(PeriodClose, month)
        assert row is not None and row.event_seq != first_close
        row.event_seq = first_close
    assert audit_codes(city) == [
        ("period-mismatch", f"closed periods ['{month}'] name other close events than the log's")
    ]
    db.dispose()


def test_audit_reports_a_reopen_of_an_archived_month(city: Path, tmp_path: Path) -> None:
    month = month_start(2).strftime("%Y-%m")
    ok(city, "period", "close", month)
    ok(city, "archive", "create", "--period", month, "-o", str(tmp_path / "a.zip"))
    db = Database(default_url(city))
    with db.write() as (session, state):  # what ``period reopen`` refuses, written by hand
        event = append_event(session, state, "period.reopened", {"period": month, "reason": "x"})
        session.flush()
        seq = event.seq
        session.delete(session.get(PeriodClose, month))
    db.dispose()
    assert audit_codes(city) == [
        ("period-mismatch", f"event {seq} reopens {month}, which was archived")
    ]


def test_reopen_records_the_operator(tmp_path: Path) -> None:
    from tests.support.operators import as_operator, with_operators

    home = with_operators(tmp_path / "yc", names=("李静", "李建国"))
    running = datetime.now(SHANGHAI).strftime("%Y-%m")
    closed = as_operator(home, "李建国", "period", "close", running, "--force")
    assert closed.exit_code == 0, closed.output
    reopened = as_operator(
        home, "李建国", "--json", "period", "reopen", running, "--reason", "补开"
    )
    assert reopened.exit_code == 0, reopened.output
    assert json.loads(reopened.stdout)["operator"] == "李建国"
    db = Database(default_url(home))
    with db.read() as session:
        kinds = {"period.closed", "period.reopened"}
        events = session.scalars(select(Event).where(Event.kind.in_(kinds)).order_by(Event.seq))
        payloads = [json.loads(e.payload) for e in events]
    db.dispose()
    assert payloads == [
        {"period": running, "operator": "李建国"},
        {"period": running, "reason": "补开", "operator": "李建国"},
    ]


def test_close_and_reopen_on_each_back_end(ledger_db: Database) -> None:
    from receipts.issuing.periods import (
        close_period,
        closed_periods,
        reopen_period,
        reopened_periods,
    )

    assert close_period(ledger_db, "2026-09", "2026-11", None)
    reopen_period(ledger_db, "2026-09", "补开", None, operator="李建国")
    assert (closed_periods(ledger_db), reopened_periods(ledger_db)) == ([], ["2026-09"])
    assert close_period(ledger_db, "2026-09", "2026-11", None)
    [period] = closed_periods(ledger_db)
    assert (period.period, period.reopened) == ("2026-09", 1)
    assert reopened_periods(ledger_db) == []
