"""Issuer vouchers (记账凭证) over the hand-worked ledger of :mod:`tests.support.stats_ledger`, on
SQLite and PostgreSQL: they balance, their income ties to ``stats``, red receipts reduce it, and
the account codes come from the shipped defaults under a workspace's ``[vouchers]``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from receipts.domain.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from receipts.stats.figures import Dimension, ledger_stats
from receipts.vouchers.accounts import issuer_accounts, payer_accounts
from receipts.vouchers.builder import VoucherSet, issuer_vouchers, month_span
from receipts.vouchers.model import Side, UnbalancedVoucher
from tests.support.stats_ledger import CODE, fill

INCOME = ("401", "402", "408")


@pytest.fixture
def db(ledger_db: Database) -> Database:
    fill(ledger_db)
    return ledger_db


def vouchers(
    db: Database, first: str | None, last: str | None, config: dict[str, Any] | None = None
) -> VoucherSet:
    return issuer_vouchers(db, "640100", config or {}, Catalogue(), month_span(first, last))


def lines(voucher_set: VoucherSet) -> list[tuple[str, str, str, str, int]]:
    return [
        (v.number, line.side.value, line.account.code, line.detail, line.fen)
        for v in voucher_set.vouchers
        for line in v.lines
    ]


def test_a_voucher_a_month_worked_by_hand(db: Database) -> None:
    got = vouchers(db, "2026-09", "2026-10")
    # 银川's own receipts only: R1 (01 1000.00, 02 200.50) and R2 (02 50.00) in September, the
    # red R3 (02 -50.00) in October; R4 (August) is outside the months, 640000's and 640104's
    # receipts are other federations' income.
    assert lines(got) == [
        ("记-2026-09-001", "debit", "102", "", 125050),
        ("记-2026-09-001", "credit", "402", "01 工会经费(拨缴) 所属期 2026-09", 100000),
        ("记-2026-09-001", "credit", "401", "02 会员会费 所属期 2026-09", 25050),
        ("记-2026-10-001", "debit", "102", "", -5000),
        ("记-2026-10-001", "credit", "401", "02 会员会费 所属期 2026-10", -5000),
    ]
    september, october = got.vouchers
    assert (september.day, september.documents) == (date(2026, 9, 30), 2)
    assert (october.day, october.documents) == (date(2026, 10, 31), 1)
    assert october.lines[0].summary == "冲红 2026年10月红字收据 1 张"
    assert october.lines[1].summary == "冲红 会员会费收入"
    assert [line.account.name for line in september.lines] == [
        "银行存款",
        "拨缴经费收入",
        "会费收入",
    ]
    for voucher in got.vouchers:
        assert voucher.debit_fen == voucher.credit_fen


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-09", "2026-10"), ("2026-08", "2026-08"), (None, None), ("2026-10", None)],
)
def test_income_ties_to_stats(db: Database, first: str | None, last: str | None) -> None:
    got = vouchers(db, first, last)
    stats = ledger_stats(db, period_from=first, period_to=last, by=[Dimension.ISSUER])
    [mine] = [row for row in stats.breakdown(Dimension.ISSUER).rows if row.key == "640100"]
    income = sum(got.credits_to(code) for code in INCOME)
    assert income == int(mine.figures.net * 100)
    assert got.total_fen == income  # the bank received what the income is


def test_red_receipts_reduce_the_income_of_their_month(db: Database) -> None:
    october = vouchers(db, "2026-10", "2026-10")
    assert sum(october.credits_to(code) for code in INCOME) == -5000
    assert all(line.fen < 0 for v in october.vouchers for line in v.lines)


def test_configured_codes_override_the_defaults(db: Database) -> None:
    config = {
        "prefix": "收",
        "accounts": {"40201": "拨缴经费收入—工会经费", "102": "银行存款—工商银行"},
        "issuer": {"income": {"01": "40201"}, "bank": "102"},
    }
    got = vouchers(db, "2026-09", "2026-09", config)
    [september] = got.vouchers
    assert september.number == "收-2026-09-001"
    assert [(line.account.code, line.account.name) for line in september.lines] == [
        ("102", "银行存款—工商银行"),
        ("40201", "拨缴经费收入—工会经费"),
        ("401", "会费收入"),  # item 02 keeps its default
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"issuers": {}}, "unknown keys in [vouchers]: issuers"),
        ({"issuer": {"bank": "9999"}}, "[vouchers.issuer] bank: account 9999 is not in the chart"),
        ({"issuer": {"bank": 102}}, "[vouchers.issuer] bank: account code 102 must be 1 to 20"),
        ({"issuer": {"income": {"1": "402"}}}, "[vouchers.issuer.income]: item code '1'"),
        ({"issuer": {"settlement": {"up": "221"}}}, "unknown keys in [vouchers.issuer.settlement]"),
        ({"accounts": {"4x": "收入"}}, "account code '4x' in [vouchers] must be 1 to 20 digits"),
        ({"accounts": {"409": " "}}, "account 409 in [vouchers]: name must be 1 to 60"),
        ({"prefix": ""}, "[vouchers] prefix must be 1 to 4 characters"),
        ({"issuer": []}, "[vouchers.issuer] must be a table"),
    ],
)
def test_bad_configuration_is_one_clear_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        issuer_accounts(config)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_payer_side_reads_its_own_chart() -> None:
    accounts = payer_accounts(
        {"accounts": {"221105": "应付职工薪酬—工会经费"}, "payer": {"items": {"01": "221105"}}}
    )
    assert accounts.account_of("01").name == "应付职工薪酬—工会经费"
    assert accounts.account_of("02").code == "2241"
    assert accounts.bank.code == "1002"
    with pytest.raises(InvalidInput, match=r"item 07 has no account"):
        accounts.account_of("07")


def test_an_item_without_an_income_account_is_refused(db: Database) -> None:
    _add(db, 77, [("05", 1000)], 1000)
    with pytest.raises(InvalidInput, match=r"item 05 has no income account: add it to"):
        vouchers(db, "2026-11", "2026-11")
    config = {"accounts": {"409": "其他收入—培训"}, "issuer": {"income": {"05": "409"}}}
    [november] = vouchers(db, "2026-11", "2026-11", config).vouchers
    assert [(line.side, line.account.code, line.fen) for line in november.lines] == [
        (Side.DEBIT, "102", 1000),
        (Side.CREDIT, "409", 1000),
    ]


def test_a_receipt_whose_lines_miss_its_total_unbalances_the_export(db: Database) -> None:
    """The bank side sums receipts, the income side their lines: a row changed behind the
    ledger's back shows as an unbalanced voucher, and nothing is exported."""
    _add(db, 78, [("01", 1000)], 1001)
    with pytest.raises(UnbalancedVoucher, match=r"voucher 记-2026-11-001 .* does not balance"):
        vouchers(db, None, None)


def test_bad_months_are_input_errors() -> None:
    with pytest.raises(InvalidInput, match=r"--from '2026/09' must be a month YYYY-MM"):
        month_span("2026/09", None)
    with pytest.raises(InvalidInput, match=r"--to '2026-13' must be a month YYYY-MM"):
        month_span(None, "2026-13")
    with pytest.raises(InvalidInput, match=r"--from 2026-10 is after --to 2026-09"):
        month_span("2026-10", "2026-09")


def _add(db: Database, number: int, items: list[tuple[str, int]], total: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(ReceiptRow),
            [
                {
                    "code": CODE,
                    "number": number,
                    "digest": f"{number:064d}",
                    "issuer": "640100",
                    "kind": "normal",
                    "issued_at": datetime(2026, 11, 3, tzinfo=UTC),
                    "period": "2026-11",
                    "check_code": "abc123",
                    "payer_name": "庚公司",
                    "payer_kind": "enterprise",
                    "payer_id": None,
                    "total_fen": total,
                    "original_code": None,
                    "original_number": None,
                    "xml": b"<receipt/>",
                }
            ],
        )
        conn.execute(
            insert(ReceiptItemRow),
            [
                {
                    "code": CODE,
                    "number": number,
                    "line": n,
                    "item_code": item,
                    "item_period": "2026-11",
                    "amount_fen": fen,
                }
                for n, (item, fen) in enumerate(items, 1)
            ],
        )
