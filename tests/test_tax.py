"""Tax-collected dues (税务代收, docs/tax.md) in the ledger, on SQLite and PostgreSQL: records
imported all or nothing from UTF-8, GBK and Excel files, every bad row named by row and column;
one payment, one proof across tax records and receipts (and the override, recorded); the audit
catching an edited, deleted or inserted tax row; the month's income and shares for settlement."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import delete, func, insert, select, update

from receipts.audit import audit
from receipts.domain.catalogue import Catalogue
from receipts.domain.model import Item
from receipts.domain.sharing import Party
from receipts.findings import FindingCode
from receipts.issuing.issue import issue, reverse
from receipts.issuing.tax_check import TaxCollected
from receipts.ledger.database import Database
from receipts.ledger.models import Event, ReceiptRow, TaxCollectionRow
from receipts.reconcile.bank_statement import Credit
from receipts.settlement.shares import Totals
from receipts.tax.importing import TaxImportRefused, import_tax_file
from receipts.tax.income import tax_income, tax_shares, tax_totals
from receipts.tax.transfers import expected_transfers, match_transfers
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki

SIGNER = tier_pki().signers["640100"]
USCC = "91640100MA7600001J"  # the payer of tests.support.ledger.request
OTHER = "91640100MA7600005Y"
THIRD = "91640100MA7600013R"

CHINESE_HEADER = "统一社会信用代码,纳税人名称,征收品目,所属期,计征基数,实缴金额,完税凭证号,入库日期"
GOOD_ROWS = [
    [USCC, "宁夏贺兰山实业有限公司", "01", "2026-10", "100000.00", "2000.00", "364016260000001",
     "2026-11-05"],
    [OTHER, "宁夏六盘山有限公司", "工会经费", "2026-10", "50000", "1,000.00", "364016260000002",
     "2026/11/05"],
    [THIRD, "", "01", "2026Q3", "30000.00", "600.00", "364016260000003", "20261106"],
]  # fmt: skip


def _csv(header: str, rows: list[list[str]]) -> str:
    return header + "\n" + "".join(",".join(f'"{c}"' for c in row) + "\n" for row in rows)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "税务代收"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _import(db: Database, path: Path) -> int:
    return import_tax_file(db, "640100", path, Catalogue(), SIGNER).records


def _counts(db: Database) -> tuple[int, int]:
    with db.read() as session:
        events = session.scalar(select(func.count()).select_from(Event)) or 0
        rows = session.scalar(select(func.count()).select_from(TaxCollectionRow)) or 0
    return events, rows


def _stored(db: Database) -> list[tuple[str, str, str, str, int, int, date]]:
    with db.read() as session:
        return [
            (r.voucher, r.uscc, r.item_code, r.period, r.base_fen, r.amount_fen, r.collected_on)
            for r in session.scalars(select(TaxCollectionRow).order_by(TaxCollectionRow.voucher))
        ]


EXPECTED = [
    ("364016260000001", USCC, "01", "2026-10", 10_000_000, 200_000, date(2026, 11, 5)),
    ("364016260000002", OTHER, "01", "2026-10", 5_000_000, 100_000, date(2026, 11, 5)),
    ("364016260000003", THIRD, "01", "2026Q3", 3_000_000, 60_000, date(2026, 11, 6)),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_imports_the_same_records(
    ledger_db: Database, tmp_path: Path, encoding: str
) -> None:
    path = _write(tmp_path, "tax.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode(encoding))
    assert _import(ledger_db, path) == 3
    assert _stored(ledger_db) == EXPECTED
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_excel_with_english_headers_and_date_cells(ledger_db: Database, tmp_path: Path) -> None:
    header: list[object] = ["uscc", "payer_name", "period", "base", "amount", "voucher"]
    rows: list[list[object]] = [["缴费明细查询结果"], [], [*header, "collected_on"]]
    rows.append([USCC, "宁夏贺兰山实业有限公司", date(2026, 10, 1), 100000, 2000, "364016260000001",
                 date(2026, 11, 5)])  # fmt: skip
    rows.append([OTHER, "宁夏六盘山有限公司", "2026-10", 50000.0, 1000.0, "364016260000002",
                 "2026-11-05"])  # fmt: skip
    rows.append([THIRD, None, "2026Q3", "30000.00", 600, 364016260000003, date(2026, 11, 6)])
    path = _write(tmp_path, "tax.xlsx", _xlsx(rows))
    assert _import(ledger_db, path) == 3
    assert _stored(ledger_db) == EXPECTED


def test_period_from_and_to_columns(ledger_db: Database, tmp_path: Path) -> None:
    header = "纳税人识别号,税款所属期起,税款所属期止,计税依据,实缴金额,电子税票号码,缴款日期"
    rows = [[USCC, "2026-07-01", "2026-09-30", "300000.00", "6000.00", "364016260000009",
             "2026-10-15"]]  # fmt: skip
    assert _import(ledger_db, _write(tmp_path, "t.csv", _csv(header, rows).encode("gbk"))) == 1
    assert _stored(ledger_db)[0][3] == "2026-07~2026-09"  # a range's canonical text


def test_a_bad_file_names_every_bad_row_and_column_and_imports_nothing(
    ledger_db: Database, tmp_path: Path
) -> None:
    _import(ledger_db, _write(tmp_path, "first.csv", _csv(CHINESE_HEADER, GOOD_ROWS[:1]).encode()))
    before = _counts(ledger_db)
    rows = [
        GOOD_ROWS[1],  # line 2: good
        [USCC[:-1] + "K", "x", "01", "2026-10", "1.00", "1.00", "A00000001", "2026-11-05"],
        [OTHER, "x", "09", "2026-13", "100.00", "1.005", "A00000002", "2026-11-31"],
        [OTHER, "x", "01", "2026-10", "100.00", "200.00", "A 1", ""],
        [THIRD, "x", "01", "2026-10", "100.00", "0", "A00000003", "2026-11-05"],
        [THIRD, "x", "01", "2026-11", "100.00", "2.00", "364016260000002", "2026-11-05"],
        [THIRD, "x", "01", "2026-12", "100.00", "2.00", "364016260000001", "2026-11-05"],
    ]
    path = _write(tmp_path, "bad.csv", _csv(CHINESE_HEADER, rows).encode("gbk"))
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, path)
    found = [(p.line, p.column, p.message.split(":")[0]) for p in refused.value.problems]
    assert found == [
        (3, 1, "uscc"),
        (4, 3, "item"),
        (4, 4, "period"),
        (4, 6, "amount"),
        (4, 8, "collected_on"),
        (5, 6, "amount"),  # above the base
        (5, 7, "voucher"),
        (5, 8, "collected_on"),
        (6, 6, "amount"),  # zero
        (7, 7, "voucher"),  # twice in the file (row 2)
    ]
    assert "row 2" in refused.value.problems[-1].message
    assert all(str(p).startswith(f"{path}:") for p in refused.value.problems)
    assert _counts(ledger_db) == before
    # Once the cells are right, the voucher imported earlier is the last problem, at its column.
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, _write(tmp_path, "again.csv", _csv(CHINESE_HEADER, rows[-1:]).encode()))
    (problem,) = refused.value.problems
    assert (problem.line, problem.column) == (2, 7)
    assert "364016260000001 was imported before (event" in problem.message
    assert _counts(ledger_db) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("uscc,period,amount\nx,y,z\n", "missing column(s): base, voucher, collected_on"),
        ("uscc,period,base,amount,voucher,collected_on,税额\n", "unknown column '税额'"),
        ("uscc,period,base,amount,voucher,collected_on,期间\n", "unknown column '期间'"),
        ("uscc,所属期,period,base,amount,voucher,collected_on\n", "is period again"),
        ("\n  \n", "file is empty"),
        ("uscc,period,base,amount,voucher,collected_on\n", "a header but no records"),
    ],
)
def test_a_bad_header_refuses_the_file(
    ledger_db: Database, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, _write(tmp_path, "h.csv", text.encode()))
    assert message in "\n".join(p.message for p in refused.value.problems)
    assert _counts(ledger_db)[1] == 0


def test_undecodable_bytes_are_named_at_their_line(ledger_db: Database, tmp_path: Path) -> None:
    data = _csv(CHINESE_HEADER, GOOD_ROWS).encode("gbk").replace(b"2026Q3", b"2026\xff\xfe")
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, _write(tmp_path, "x.csv", data))
    (problem,) = refused.value.problems
    assert problem.line == 4 and "bytes invalid" in problem.message


def test_a_hidden_excel_row_is_refused(ledger_db: Database, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["uscc", "period", "base", "amount", "voucher", "collected_on"], GOOD_ROWS[0][:1]]:
        sheet.append(row)
    sheet.row_dimensions[2].hidden = True
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, _write(tmp_path, "h.xlsx", out.getvalue()))
    assert "row 2 is hidden" in refused.value.problems[0].message


def test_a_tax_collected_payment_is_not_receipted_again(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    _import(ledger_db, _write(tmp_path, "t.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode()))
    issuer = make_issuer()
    with pytest.raises(TaxCollected) as refused:
        issue(ledger_db, issuer, request())
    assert str(refused.value) == (
        f"payer {USCC}, item 01, 所属期 2026-10 was collected by the tax bureau (tax voucher "
        "364016260000001, 所属期 2026-10, collected 2026-11-05): the voucher is the payer's proof; "
        "no second receipt unless --override-tax REASON"
    )
    # A quarter covering a collected month is the same payment; the month after it is not.
    quarter = (Item("01", "工会经费(拨缴)", "2026Q4", Decimal("6000.00")),)
    with pytest.raises(TaxCollected, match="364016260000001"):
        issue(ledger_db, issuer, request(items=quarter))
    with ledger_db.read() as session:
        assert session.scalar(select(func.count()).select_from(ReceiptRow)) == 0
    november = (Item("01", "工会经费(拨缴)", "2026-11", Decimal("2000.00")),)
    assert issue(ledger_db, issuer, request(items=november)).ref.number == 1  # no number lost
    # Another item of the same payer and month is not what the tax bureau collected.
    dues = (Item("02", "会员会费", "2026-10", Decimal("20.00")),)
    assert issue(ledger_db, issuer, request(items=dues)).ref.number == 2
    # The override issues it and records the reason, the receipt and the voucher.
    issuer = replace(issuer, tax_override="缴费人重复缴纳，待税务退费")
    outcome = issue(ledger_db, issuer, request())
    with ledger_db.read() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
    assert event is not None and event.kind == "tax.overridden"
    assert json.loads(event.payload) == {
        "code": outcome.ref.code,
        "number": outcome.ref.number,
        "uscc": USCC,
        "lines": [{"line": 1, "item": "01", "period": "2026-10", "voucher": "364016260000001"}],
        "reason": "缴费人重复缴纳，待税务退费",
    }
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_a_standing_receipt_refuses_the_tax_record_until_reversed(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    outcome = issue(ledger_db, issuer, request())
    path = _write(tmp_path, "t.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode())
    with pytest.raises(TaxImportRefused) as refused:
        _import(ledger_db, path)
    (problem,) = refused.value.problems
    assert (problem.line, problem.column) == (2, 4)
    assert f"receipt {outcome.ref.code}-{outcome.ref.number:010d} (所属期 2026-10)" in str(problem)
    assert _counts(ledger_db)[1] == 0
    reverse(ledger_db, issuer, outcome.ref, "税务已代收", "张晓梅", "李建国")
    assert _import(ledger_db, path) == 3


@pytest.mark.parametrize("change", ["amount", "share", "delete", "insert"])
def test_audit_catches_a_tax_row_changed_in_sql(
    ledger_db: Database, tmp_path: Path, change: str
) -> None:
    _import(ledger_db, _write(tmp_path, "t.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode()))
    assert audit(ledger_db, "640100", audit_trust()).ok
    voucher = "364016260000002"
    with ledger_db.engine.begin() as conn:
        if change == "amount":
            stmt = update(TaxCollectionRow).where(TaxCollectionRow.voucher == voucher)
            # 900.00 instead of 1,000.00, the grassroots share lowered to keep the sum.
            conn.execute(
                stmt.values(
                    amount_fen=90_000, grassroots_fen=TaxCollectionRow.grassroots_fen - 10_000
                )
            )
        elif change == "share":  # a fen moved from the province to the city: sums still agree
            stmt = update(TaxCollectionRow).where(TaxCollectionRow.voucher == voucher)
            conn.execute(
                stmt.values(
                    city_fen=TaxCollectionRow.city_fen + 1,
                    province_fen=TaxCollectionRow.province_fen - 1,
                )
            )
        elif change == "delete":
            conn.execute(delete(TaxCollectionRow).where(TaxCollectionRow.voucher == voucher))
        else:
            row = {c: v for c, v in zip(EXPECTED_COLUMNS, EXPECTED[1], strict=True)}
            seq = conn.execute(select(func.max(Event.seq))).scalar_one()
            conn.execute(
                insert(TaxCollectionRow).values(
                    {**row, "voucher": "FORGED000001", "issuer": "640100", "payer_name": None,
                     "first_month": "2026-10", "last_month": "2026-10", "event_seq": seq,
                     "rules_digest": "0" * 64, "grassroots_fen": 100_000, "county_fen": 0,
                     "city_fen": 0, "province_fen": 0, "national_fen": 0}
                )
            )  # fmt: skip
    findings = audit(ledger_db, "640100", audit_trust()).findings
    assert [f.code for f in findings] == [FindingCode.TAX_COLLECTION_MISMATCH]
    expected = {
        "amount": "in amount_fen, grassroots_fen",
        "share": "in city_fen, province_fen",
        "delete": "is gone",
        "insert": "no tax.imported",
    }
    assert expected[change] in findings[0].message


EXPECTED_COLUMNS = (
    "voucher",
    "uscc",
    "item_code",
    "period",
    "base_fen",
    "amount_fen",
    "collected_on",
)


def test_income_and_shares_of_a_month(ledger_db: Database, tmp_path: Path) -> None:
    _import(ledger_db, _write(tmp_path, "t.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode()))
    rows = [
        [USCC, "x", "01", "2026-11", "617283.50", "12345.67", "364016260000010", "2026-12-01"],
        [USCC, "x", "02", "2026-11", "1000.00", "5.00", "364016260000011", "2026-12-02"],
    ]
    _import(ledger_db, _write(tmp_path, "d.csv", _csv(CHINESE_HEADER, rows).encode()))
    with ledger_db.read() as session:
        assert tax_income(session, "640100", "2026-11") == {"01": 360_000}
        assert tax_income(session, "640100", "2026-12") == {"01": 1_234_567, "02": 500}
        assert tax_income(session, "640100", "2026-10") == {}
        shares = tax_shares(session, "640100", "2026-12")
        totals = tax_totals(session, "640100", "2026-12")
    # docs/sharing.md's worked example (default table, tax collected, 12,345.67); 会员会费 has
    # no row in the default table: not shared, the issuing city's own.
    assert shares == {
        ("01", Party.GRASSROOTS): 740_740,
        ("01", Party.COUNTY): 0,
        ("01", Party.CITY): 345_679,
        ("01", Party.PROVINCE): 123_457,
        ("01", Party.NATIONAL): 24_691,
        ("02", Party.GRASSROOTS): 0,
        ("02", Party.COUNTY): 0,
        ("02", Party.CITY): 500,
        ("02", Party.PROVINCE): 0,
        ("02", Party.NATIONAL): 0,
    }
    # As the city's own receipts in its settlement: province and national upward (上解), the
    # grassroots share returned (回拨), the city's own retained with the unshared 会员会费.
    assert totals == Totals(
        upward=123_457 + 24_691,
        grassroots=740_740,
        downward=0,
        retained=345_679 + 500,
        income=1_234_567 + 500,
    )


def test_transfers_reconciled_with_a_planted_difference(
    ledger_db: Database, tmp_path: Path
) -> None:
    _import(ledger_db, _write(tmp_path, "t.csv", _csv(CHINESE_HEADER, GOOD_ROWS).encode()))
    with ledger_db.read() as session:
        expected = expected_transfers(session, "640100", "2026-11")
    assert [(t.label, t.amount, t.records) for t in expected] == [
        ("2026-11-05", Decimal("3000.00"), 2),
        ("2026-11-06", Decimal("600.00"), 1),
    ]
    bureau = "国家税务总局银川市税务局"
    credits = [
        Credit(2, date(2026, 11, 7), Decimal("3000.00"), bureau, "", "划缴", "B1"),
        Credit(3, date(2026, 11, 8), Decimal("600.00"), "宁夏贺兰山实业有限公司", "", "", "B2"),
        Credit(4, date(2026, 11, 9), Decimal("599.99"), bureau, "", "划缴", "B3"),
    ]
    report = match_transfers(expected, credits, "2026-11")
    assert [(t.label, c.serial) for t, c in report.matched] == [("2026-11-05", "B1")]
    (difference,) = report.differences
    assert difference.code is FindingCode.TAX_TRANSFER_DIFFERING
    assert difference.message.endswith("(serial B3): 0.01 short")
    assert (report.expected_total, report.credited_total) == (
        Decimal("3600.00"),
        Decimal("3599.99"),
    )
