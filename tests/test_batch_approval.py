"""Issue 15, two-person rule of a big batch: over the threshold a batch file is issued only once
a reviewer other than the clerk approved that exact file, by its SHA-256; the workflow functions
by operator name, and the ``[approvals]`` threshold in receipts.toml."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from receipts.audit import audit
from receipts.domain.enums import OperatorRole
from receipts.errors import InvalidInput, NotPermitted
from receipts.issuing.batch_approval import (
    BatchThreshold,
    BatchTotals,
    approve_batch,
    batch_approvals,
    check_batch,
    file_digest,
)
from receipts.ledger.database import Database
from receipts.ledger.models import Event
from receipts.pki.operators import add_operator
from receipts.workspace import WorkspaceConfig
from tests.support.ledger import audit_trust, request
from tests.support.tier_pki import tier_pki

SIGNER = tier_pki().signers["640100"]
BIG = BatchTotals(101, Decimal("2000.00"))
DEFAULT = BatchThreshold()


def _approve(db: Database, digest: str, by: str, totals: BatchTotals = BIG) -> None:
    approve_batch(db, "october.csv", digest, totals, by, SIGNER)


@pytest.mark.parametrize(
    ("totals", "needs"),
    [
        (BatchTotals(100, Decimal("1000000.00")), False),
        (BatchTotals(101, Decimal("1.00")), True),
        (BatchTotals(1, Decimal("1000000.01")), True),
    ],
)
def test_either_limit_of_the_threshold_needs_an_approval(totals: BatchTotals, needs: bool) -> None:
    assert DEFAULT.exceeded_by(totals) is needs


def test_totals_count_receipts_and_sum_their_items() -> None:
    totals = BatchTotals.of([request(amount="10.50"), request(amount="0.25")])
    assert (totals.receipts, totals.total) == (2, Decimal("10.75"))
    assert totals.describe() == "2 receipts, ¥10.75"


def test_over_the_threshold_only_another_reviewers_approval_of_that_file_counts(
    ledger_db: Database,
) -> None:
    digest, other = "a" * 64, "b" * 64
    rule = (
        "batch october.csv (101 receipts, ¥2,000.00) is over the approval threshold "
        "(100 receipts or ¥1,000,000.00) and needs approval by a reviewer other than 张晓梅"
    )
    with pytest.raises(NotPermitted) as refused:
        check_batch(ledger_db, "october.csv", digest, BIG, "张晓梅", DEFAULT)
    assert str(refused.value) == (
        f"{rule}; no approval matches this file's content (SHA-256 aaaaaaaaaaaaaaaa…)"
    )
    _approve(ledger_db, other, "李建国")  # another file's approval does not count
    with pytest.raises(NotPermitted, match="no approval matches"):
        check_batch(ledger_db, "october.csv", digest, BIG, "张晓梅", DEFAULT)
    _approve(ledger_db, digest, "张晓梅")  # the clerk's own approval does not count either
    with pytest.raises(NotPermitted) as own:
        check_batch(ledger_db, "october.csv", digest, BIG, "张晓梅", DEFAULT)
    assert str(own.value) == rule
    approval = check_batch(ledger_db, "october.csv", digest, BIG, "李建国", DEFAULT)
    assert approval is not None and approval.approved_by == "张晓梅"


def test_an_approval_is_for_the_totals_it_saw(ledger_db: Database) -> None:
    _approve(ledger_db, "c" * 64, "李建国")
    assert check_batch(ledger_db, "x.csv", "c" * 64, BIG, "张晓梅", DEFAULT) is not None
    changed = BatchTotals(102, Decimal("2000.00"))
    with pytest.raises(NotPermitted, match=r"the file changed while it was read$"):
        check_batch(ledger_db, "x.csv", "c" * 64, changed, "张晓梅", DEFAULT)


def test_no_approval_is_needed_under_the_threshold_or_without_operators(
    ledger_db: Database,
) -> None:
    small = BatchTotals(100, Decimal("5.00"))
    assert check_batch(ledger_db, "x.csv", "d" * 64, small, "张晓梅", DEFAULT) is None
    assert check_batch(ledger_db, "x.csv", "d" * 64, BIG, None, DEFAULT) is None


def test_approving_twice_records_one_event(ledger_db: Database) -> None:
    first = approve_batch(ledger_db, "/tmp/october.csv", "e" * 64, BIG, "李建国", SIGNER)
    again = approve_batch(ledger_db, "october.csv", "e" * 64, BIG, "王芳", SIGNER)
    assert (first[1], again[1]) == (True, False)
    assert again[0].approved_by == "李建国" and again[0].file_name == "october.csv"
    with ledger_db.read() as session:
        kinds = list(session.scalars(select(Event.kind)))
    assert kinds == ["batch.approved"]
    assert [a.totals for a in batch_approvals(ledger_db)] == [BIG]
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_with_operators_only_a_reviewer_approves(ledger_db: Database) -> None:
    with ledger_db.write() as (session, state):
        add_operator(session, state, "管理员", OperatorRole.ADMIN, "0" * 64)
        add_operator(session, state, "张晓梅", OperatorRole.CLERK, "0" * 64)
        add_operator(session, state, "李建国", OperatorRole.REVIEWER, "0" * 64)
    with pytest.raises(
        NotPermitted, match=r"^张晓梅 is a clerk; approving a batch needs a reviewer$"
    ):
        _approve(ledger_db, "f" * 64, "张晓梅")
    _approve(ledger_db, "f" * 64, "李建国")
    assert [a.approved_by for a in batch_approvals(ledger_db)] == ["李建国"]


def test_audit_finds_a_forged_or_edited_approval(ledger_db: Database) -> None:
    _approve(ledger_db, "a" * 64, "李建国")
    with ledger_db.engine.begin() as connection:
        connection.execute(text("UPDATE batch_approvals SET total_fen = 1"))
    report = audit(ledger_db, "640100", audit_trust())
    assert [(f.code.value, f.message) for f in report.findings] == [
        ("approval-mismatch", "approval of batch aaaaaaaaaaaaaaaa… differs from its event")
    ]


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"abc")
    assert file_digest(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(InvalidInput, match="cannot read"):
        file_digest(tmp_path / "missing.csv")


def _config(approvals: Mapping[str, object]) -> WorkspaceConfig:
    return WorkspaceConfig.from_toml(
        {
            "workspace": {"kind": "federation", "name": "银川市总工会", "org_code": "640100"}
            | {"tier": "city"},
            "approvals": dict(approvals),
        }
    )


def test_the_threshold_is_configured_in_receipts_toml() -> None:
    assert _config({}).batch_threshold == (100, Decimal("1000000.00"))
    configured = _config({"batch_receipts": 20, "batch_total": "50000.00"})
    assert configured.batch_threshold == (20, Decimal("50000.00"))
    assert configured.to_toml()["approvals"] == {"batch_receipts": 20, "batch_total": "50000.00"}
    for bad, message in (
        ({"batch_rows": 5}, "unknown keys in [approvals]: batch_rows"),
        ({"batch_receipts": -1}, "batch_receipts must be a whole number"),
        ({"batch_receipts": True}, "batch_receipts must be a whole number"),
        ({"batch_total": 5}, "batch_total must be an amount in quotes"),
        ({"batch_total": "1.001"}, "1.001"),
    ):
        with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
            _config(bad)
