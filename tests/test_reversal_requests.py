"""Issue 15, two-person rule of a reversal (冲红): one operator requests it, another approves it
before the red receipt is issued; the workflow functions by operator name, on both back ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from receipts.audit import audit
from receipts.domain.enums import OperatorRole, ReceiptKind
from receipts.domain.model import ReceiptRef
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput, NotPermitted
from receipts.issuing import issue as issue_module
from receipts.issuing import reversal_requests as workflow
from receipts.issuing.issue import AlreadyReversed, IssueOutcome, issue
from receipts.issuing.reversal_requests import (
    RequestDecided,
    RequestPending,
    RequestStatus,
    approve_reversal,
    list_requests,
    reject_reversal,
    request_reversal,
    reverse_in_person,
)
from receipts.ledger.database import Database
from receipts.ledger.models import Event, NumberCounter, ReceiptRow
from receipts.pki.operators import add_operator
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki

SIGNER = tier_pki().signers["640100"]


@pytest.fixture
def issued(ledger_db: Database, tmp_path: Path) -> IssueOutcome:
    """One receipt issued by 银川 (number 1 of 10)."""
    stock_city(ledger_db, tmp_path, count=10)
    return issue(ledger_db, make_issuer(), request(amount="1409.50"))


def _kinds(db: Database) -> list[str]:
    with db.read() as session:
        return [e.kind for e in session.scalars(select(Event).order_by(Event.seq))]


def _receipts(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ReceiptRow)) or 0


def test_requested_by_one_approved_by_another_issues_the_red_receipt(
    ledger_db: Database, issued: IssueOutcome
) -> None:
    asked = request_reversal(ledger_db, issued.ref, "交款人名称开具错误", "张晓梅", SIGNER)
    assert (asked.id, asked.status, asked.requested_by) == (1, RequestStatus.OPEN, "张晓梅")
    assert _receipts(ledger_db) == 1  # a request issues nothing

    red = approve_reversal(ledger_db, make_issuer(), asked.id, "李建国")
    with ledger_db.read() as session:
        row = session.get(ReceiptRow, (red.ref.code, red.ref.number))
        assert row is not None
        receipt = parse_receipt_xml(row.xml)
    assert receipt.kind is ReceiptKind.REVERSAL and receipt.original == issued.ref
    assert (receipt.handler, receipt.reviewer, receipt.reason) == (
        "张晓梅",
        "李建国",
        "交款人名称开具错误",
    )
    assert red.total == "-1409.50"
    (done,) = list_requests(ledger_db)
    assert (done.status, done.decided_by, done.red) == (RequestStatus.APPROVED, "李建国", red.ref)
    assert list_requests(ledger_db, open_only=True) == []
    assert _kinds(ledger_db)[-3:] == ["reversal.requested", "receipt.issued", "reversal.approved"]
    report = audit(ledger_db, "640100", audit_trust())
    assert report.ok, report.findings


@pytest.mark.parametrize("approver", ["张晓梅", "ＺＨＡＮＧ", "zhang"])
def test_the_requester_cannot_approve_and_nothing_changes(
    ledger_db: Database, issued: IssueOutcome, approver: str
) -> None:
    requester = "张晓梅" if approver == "张晓梅" else "Zhang"
    asked = request_reversal(ledger_db, issued.ref, "金额有误", requester, SIGNER)
    before = _kinds(ledger_db)
    with pytest.raises(NotPermitted) as refused:
        approve_reversal(ledger_db, make_issuer(), asked.id, approver)
    assert str(refused.value) == f"reversal needs approval by a reviewer other than {requester}"
    assert refused.value.exit_code == 2
    assert _kinds(ledger_db) == before and _receipts(ledger_db) == 1
    assert list_requests(ledger_db, open_only=True)[0].id == asked.id


def test_in_person_reversal_refuses_one_person_as_both(
    ledger_db: Database, issued: IssueOutcome
) -> None:
    with pytest.raises(
        NotPermitted, match=r"^reversal needs approval by a reviewer other than 甲$"
    ):
        reverse_in_person(ledger_db, make_issuer(), issued.ref, "金额有误", "甲", "甲")
    assert _receipts(ledger_db) == 1
    red = reverse_in_person(ledger_db, make_issuer(), issued.ref, "金额有误", "甲", "乙")
    assert red.ref.number == 2


def test_what_cannot_be_requested(ledger_db: Database, issued: IssueOutcome) -> None:
    missing = ReceiptRef(issued.ref.code, 9)
    with pytest.raises(InvalidInput, match="was not issued by 640100"):
        request_reversal(ledger_db, missing, "x", "张晓梅", SIGNER)
    for reason in ("", "x" * 201, " 前后空格 "):
        with pytest.raises(InvalidInput, match="reason"):
            request_reversal(ledger_db, issued.ref, reason, "张晓梅", SIGNER)
    request_reversal(ledger_db, issued.ref, "x" * 200, "张晓梅", SIGNER)
    with pytest.raises(RequestPending, match="already has open reversal request 1 by 张晓梅"):
        request_reversal(ledger_db, issued.ref, "again", "王芳", SIGNER)
    red = approve_reversal(ledger_db, make_issuer(), 1, "李建国")
    with pytest.raises(AlreadyReversed, match="was already reversed by"):
        request_reversal(ledger_db, issued.ref, "again", "张晓梅", SIGNER)
    with pytest.raises(AlreadyReversed, match="is a red receipt"):
        request_reversal(ledger_db, red.ref, "again", "张晓梅", SIGNER)
    assert [r.id for r in list_requests(ledger_db)] == [1]


def test_rejected_or_decided_requests_issue_nothing(
    ledger_db: Database, issued: IssueOutcome
) -> None:
    first = request_reversal(ledger_db, issued.ref, "金额有误", "张晓梅", SIGNER)
    rejected = reject_reversal(ledger_db, first.id, "李建国", "金额无误", SIGNER)
    assert (rejected.status, rejected.decided_by, rejected.decision_reason) == (
        RequestStatus.REJECTED,
        "李建国",
        "金额无误",
    )
    with pytest.raises(RequestDecided, match=r"^reversal request 1 was rejected by 李建国$"):
        approve_reversal(ledger_db, make_issuer(), first.id, "王芳")
    with pytest.raises(InvalidInput, match="there is no reversal request 7"):
        approve_reversal(ledger_db, make_issuer(), 7, "王芳")
    # A new request once the first was rejected; its requester may withdraw it.
    second = request_reversal(ledger_db, issued.ref, "名称有误", "张晓梅", SIGNER)
    assert second.id == 2
    reject_reversal(ledger_db, second.id, "张晓梅", "撤回", SIGNER)
    third = request_reversal(ledger_db, issued.ref, "名称有误", "张晓梅", SIGNER)
    approve_reversal(ledger_db, make_issuer(), third.id, "李建国")
    with pytest.raises(RequestDecided, match="was approved by 李建国"):
        approve_reversal(ledger_db, make_issuer(), third.id, "王芳")
    assert _receipts(ledger_db) == 2
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_a_request_decided_meanwhile_rolls_the_red_receipt_back(
    ledger_db: Database, issued: IssueOutcome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another reviewer rejects the request between the approver's check and the issue: the red
    receipt, its number and its event roll back with the refused decision."""
    asked = request_reversal(ledger_db, issued.ref, "金额有误", "张晓梅", SIGNER)
    real_reverse = issue_module.reverse

    def reject_first(*args: object, **kwargs: object) -> IssueOutcome:
        reject_reversal(ledger_db, asked.id, "王芳", "金额无误", SIGNER)
        return real_reverse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workflow, "reverse", reject_first)
    before = _kinds(ledger_db)
    with pytest.raises(RequestDecided, match="was rejected by 王芳"):
        approve_reversal(ledger_db, make_issuer(), asked.id, "李建国")
    assert _kinds(ledger_db) == [*before, "reversal.rejected"]
    assert _receipts(ledger_db) == 1
    with ledger_db.read() as session:
        assert session.scalars(select(NumberCounter.last_number)).one() == 1


def test_with_operators_only_reviewers_approve_and_auditors_do_not_request(
    ledger_db: Database, issued: IssueOutcome
) -> None:
    with ledger_db.write() as (session, state):
        for name, role in (
            ("管理员", OperatorRole.ADMIN),
            ("张晓梅", OperatorRole.CLERK),
            ("赵丽", OperatorRole.CLERK),
            ("李建国", OperatorRole.REVIEWER),
            ("王芳", OperatorRole.AUDITOR),
        ):
            add_operator(session, state, name, role, "0" * 64)
    with pytest.raises(NotPermitted, match=r"^王芳 is an auditor; requesting a reversal needs"):
        request_reversal(ledger_db, issued.ref, "金额有误", "王芳", SIGNER)
    with pytest.raises(NotPermitted, match=r"^路人 is not an operator of this workspace"):
        request_reversal(ledger_db, issued.ref, "金额有误", "路人", SIGNER)
    asked = request_reversal(ledger_db, issued.ref, "金额有误", "张晓梅", SIGNER)
    with pytest.raises(
        NotPermitted, match=r"^赵丽 is a clerk; approving a reversal needs a reviewer$"
    ):
        approve_reversal(ledger_db, make_issuer(), asked.id, "赵丽")
    with pytest.raises(
        NotPermitted, match=r"^赵丽 is a clerk; rejecting a reversal needs a reviewer$"
    ):
        reject_reversal(ledger_db, asked.id, "赵丽", "不同意", SIGNER)
    red = approve_reversal(ledger_db, make_issuer(), asked.id, "李建国")
    assert red.ref.number == 2


TAMPERING = {
    "request approved in SQL": "UPDATE reversal_requests SET status = 'approved', decided_by = 'x'",
    "request deleted": "DELETE FROM reversal_requests",
    "requester renamed": "UPDATE reversal_requests SET requested_by = '李建国'",
    "batch approval forged": (
        "INSERT INTO batch_approvals VALUES ('"
        + "a" * 64
        + "', 'big.csv', 500, 100, '李建国', '2026-12-01 00:00:00', 1)"
    ),
}


@pytest.mark.parametrize("statement", TAMPERING.values(), ids=TAMPERING.keys())
def test_audit_rederives_the_requests_from_the_events(
    ledger_db: Database, issued: IssueOutcome, statement: str
) -> None:
    request_reversal(ledger_db, issued.ref, "金额有误", "张晓梅", SIGNER)
    assert audit(ledger_db, "640100", audit_trust()).ok
    with ledger_db.engine.begin() as connection:
        connection.execute(text(statement))
    report = audit(ledger_db, "640100", audit_trust())
    assert [f.code.value for f in report.findings] == ["approval-mismatch"]
    payloads = [json.loads(e) for e in _payloads(ledger_db, "reversal.requested")]
    assert payloads == [
        {
            "id": 1,
            "code": issued.ref.code,
            "number": 1,
            "reason": "金额有误",
            "requested_by": "张晓梅",
        }
    ]


def _payloads(db: Database, kind: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Event.payload).where(Event.kind == kind)))


def test_nobody_acts_under_another_operators_name(
    ledger_db: Database, issued: IssueOutcome
) -> None:
    """The names passed in must be the operator the write is recorded as (the CLI's
    authenticated one): a reviewer cannot request as a clerk, nor withdraw a clerk's request."""
    asked = request_reversal(ledger_db, issued.ref, "金额有误", "张晓梅", SIGNER)
    ledger_db.authorise = lambda: "李建国"
    with pytest.raises(NotPermitted, match=r"^李建国 is signed in; 李建国 cannot act as 张晓梅$"):
        request_reversal(ledger_db, ReceiptRef(issued.ref.code, 1), "x", "张晓梅", SIGNER)
    with pytest.raises(NotPermitted, match="cannot act as 张晓梅"):
        reject_reversal(ledger_db, asked.id, "张晓梅", "撤回", SIGNER)
    with pytest.raises(NotPermitted, match="cannot act as 王芳"):
        approve_reversal(ledger_db, make_issuer(), asked.id, "王芳")
    assert approve_reversal(ledger_db, make_issuer(), asked.id, "李建国").ref.number == 2
