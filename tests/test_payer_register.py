"""The payer register (docs/operations.md, "The payer register"): validated entries, names over
time, issuing held against it before a number is taken, and its rows audited against its events;
on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from receipts.audit import audit
from receipts.domain.enums import PayerKind
from receipts.domain.model import Payer
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.issuing.issue import issue
from receipts.issuing.payer_register import (
    PayerEntry,
    PayerMismatch,
    apply_entries,
    list_payers,
    payer_history,
    register_payer,
    rename_payer,
    update_payer,
)
from receipts.ledger.database import Database
from receipts.ledger.models import Event, PayerNameRow, PayerRow, ReceiptRow
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki

USCC = "91640100MA7600001J"
NAME = "宁夏贺兰山实业有限公司"
UNION = "81640100MA7600002N"
SIGNER = tier_pki().signers["640100"]

#: One bad value per rule, named for it: each is refused with one line.
BAD_ENTRIES = {
    "uscc-wrong-check-character": {"uscc": "91640100MA7600001K"},
    "uscc-too-short": {"uscc": "91640100MA760000"},
    "uscc-forbidden-letter": {"uscc": "91640100MA760000IJ"},
    "union-uscc-not-a-trade-union": {"union_uscc": "91640100MA7600005Y"},
    "union-uscc-wrong-check-character": {"union_uscc": "81640100MA7600002M"},
    "email-without-at": {"email": "caiwu.helanshan.cn"},
    "email-idn-domain": {"email": "caiwu@贺兰山.cn"},
    "email-single-label-domain": {"email": "caiwu@localhost"},
    "email-double-dot": {"email": "cai..wu@helanshan.cn"},
    "email-with-spaces": {"email": "cai wu@helanshan.cn"},
    "email-with-newline": {"email": "caiwu@helanshan.cn\nBcc: x@y.cn"},
    "kind-unknown": {"kind": "company"},
    "name-empty": {"name": ""},
    "name-control-character": {"name": "贺兰山\x07实业"},
    "name-too-long": {"name": "贺" * 101},
}


def _entry(**kw: str) -> PayerEntry:
    fields = {"uscc": USCC, "name": NAME, "kind": "enterprise", "union_uscc": UNION}
    fields["email"] = "caiwu@helanshan.example.cn"
    fields.update(kw)
    return PayerEntry.of(**fields)


@pytest.mark.parametrize("bad", list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES))
def test_bad_fields_are_refused_with_one_line(bad: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as error:
        _entry(**bad)
    assert "\n" not in str(error.value).replace("\\n", "")


def test_add_rename_update_with_history(ledger_db: Database) -> None:
    register_payer(ledger_db, _entry(), SIGNER)
    with pytest.raises(InvalidInput, match="registered already"):
        register_payer(ledger_db, _entry(name="别的名字"), SIGNER)
    assert rename_payer(ledger_db, USCC, "宁夏贺兰山实业集团有限公司", "工商变更", SIGNER) == NAME
    update_payer(ledger_db, USCC, SIGNER, email="ghcw@helanshan.example.cn", union_uscc=None)
    (entry,) = list_payers(ledger_db)
    assert (entry.name, entry.email, entry.union_uscc) == (
        "宁夏贺兰山实业集团有限公司",
        "ghcw@helanshan.example.cn",
        None,
    )
    assert entry.kind is PayerKind.ENTERPRISE
    _, names = payer_history(ledger_db, USCC)
    assert [(n.name, n.reason) for n in names] == [
        (NAME, None),
        ("宁夏贺兰山实业集团有限公司", "工商变更"),
    ]
    assert names[0].effective_at <= names[1].effective_at
    with pytest.raises(InvalidInput, match="not registered"):
        rename_payer(ledger_db, "91640100MA7600005Y", "x", "y", SIGNER)
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_import_refuses_a_new_name_for_a_known_uscc_whole(ledger_db: Database) -> None:
    register_payer(ledger_db, _entry(), SIGNER)
    other = PayerEntry.of("91640100MA7600005Y", "宁夏六盘山有限公司", "enterprise")
    with ledger_db.read() as session:
        before = session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(InvalidInput, match="rename it first"):
        apply_entries(ledger_db, [other, _entry(name="宁夏贺兰山公司")], SIGNER)
    with ledger_db.read() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == before
    assert [e.uscc for e in list_payers(ledger_db)] == [USCC]
    assert apply_entries(ledger_db, [other, _entry(email="new@helanshan.example.cn")], SIGNER) == (
        1,
        1,
        0,
    )


def test_issuing_refuses_a_name_mismatch_before_a_number_is_taken(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    register_payer(ledger_db, _entry(), SIGNER)
    issuer = make_issuer()
    with pytest.raises(PayerMismatch) as error:
        issue(ledger_db, issuer, request(payer="宁夏贺兰山实业公司"))
    assert str(error.value) == (
        f"payer {USCC} is registered as {NAME}, not 宁夏贺兰山实业公司; rename it first with "
        "receipts payer rename"
    )
    with ledger_db.read() as session:
        assert session.scalar(select(func.count()).select_from(ReceiptRow)) == 0
    rename_payer(ledger_db, USCC, "宁夏贺兰山实业公司", "更名", SIGNER)
    assert issue(ledger_db, issuer, request(payer="宁夏贺兰山实业公司")).ref.number == 1
    # An unregistered USCC is accepted (the register is built up over time).
    other = Payer("宁夏六盘山有限公司", PayerKind.ENTERPRISE, uscc="91640100MA7600005Y")
    assert issue(ledger_db, issuer, replace(request(), payer=other)).ref.number == 2
    assert audit(ledger_db, "640100", audit_trust()).ok


@pytest.mark.parametrize("column", ["name", "email", "union_uscc"])
def test_audit_finds_a_payer_row_edited_in_sql(ledger_db: Database, column: str) -> None:
    register_payer(ledger_db, _entry(), SIGNER)
    rename_payer(ledger_db, USCC, "宁夏贺兰山实业集团有限公司", "工商变更", SIGNER)
    value = {"name": "冒名公司", "email": "x@evil.example.cn", "union_uscc": None}[column]
    with ledger_db.engine.begin() as conn:
        conn.execute(update(PayerRow).where(PayerRow.uscc == USCC).values({column: value}))
    report = audit(ledger_db, "640100", audit_trust())
    assert [f.code for f in report.findings] == [FindingCode.PAYER_MISMATCH]


def test_audit_finds_a_name_history_row_deleted_in_sql(ledger_db: Database) -> None:
    register_payer(ledger_db, _entry(), SIGNER)
    rename_payer(ledger_db, USCC, "宁夏贺兰山实业集团有限公司", "工商变更", SIGNER)
    with ledger_db.engine.begin() as conn:
        conn.execute(delete(PayerNameRow).where(PayerNameRow.reason == "工商变更"))
    report = audit(ledger_db, "640100", audit_trust())
    assert [f.code for f in report.findings] == [FindingCode.PAYER_MISMATCH]
    assert "event" in report.findings[0].message
