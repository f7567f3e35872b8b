"""Shares computed at issue and stored with each receipt (docs/settlement.md, "Shares at
issue"), on SQLite and PostgreSQL: they sum to the receipt's amount, a red receipt negates them,
a rule change applies from its date only, and the audit recomputes every share row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from receipts.audit import audit
from receipts.domain.enums import PayerKind
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer, ReceiptRef
from receipts.domain.sharing import PARTY_ORDER, Party, PayerSituation
from receipts.domain.sharing_codec import default_sharing_rules, rules_from_toml
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.issuing.issue import issue, issue_batch, reverse
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow, ReceiptShareRow
from receipts.settlement.rules import adopt_own_table
from receipts.settlement.shares import period_shares
from tests.support.ledger import (
    NINGXIA,
    SHANGHAI,
    audit_trust,
    fixed_clock,
    make_issuer,
    request,
    stock_city,
)
from tests.support.tier_pki import tier_pki_start

_FIELDS = ("grassroots", "county", "city", "province", "national")


def _shares(db: Database) -> dict[tuple[str, int], list[ReceiptShareRow]]:
    out: dict[tuple[str, int], list[ReceiptShareRow]] = {}
    with db.read() as session:
        for row in session.scalars(select(ReceiptShareRow).order_by(ReceiptShareRow.line)):
            session.expunge(row)
            out.setdefault((row.code, row.number), []).append(row)
    return out


def _fen(row: ReceiptShareRow) -> dict[str, int]:
    return {f: getattr(row, f"{f}_fen") for f in _FIELDS}


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


def test_stored_shares_sum_to_every_amount_and_red_negates(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=400)
    issuer = make_issuer()
    situations = st.sampled_from([None, *PayerSituation])

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(amounts, amounts, situations), min_size=1, max_size=8))
    def property_(lines: list[tuple[Decimal, Decimal, PayerSituation | None]]) -> None:
        requests = [
            request(
                items=(
                    Item("01", "工会经费(拨缴)", "2026-10", a),
                    Item("02", "会员会费", "2026-10", b),
                ),
                situation=s,
            )
            for a, b, s in lines
        ]
        outcomes = list(issue_batch(ledger_db, issuer, requests))
        stored = _shares(ledger_db)
        for outcome, (a, b, s) in zip(outcomes, lines, strict=True):
            rows = stored[(outcome.ref.code, outcome.ref.number)]
            assert [r.amount_fen for r in rows] == [int(a * 100), int(b * 100)]
            for r in rows:
                assert sum(_fen(r).values()) == r.amount_fen
            # 会员会费 has no row in the default table: the issuing city keeps it whole.
            assert _fen(rows[1]) == {**dict.fromkeys(_FIELDS, 0), "city": int(b * 100)}
            assert rows[0].situation == (s or PayerSituation.ENTERPRISE_FULL).value

    property_()
    first = next(iter(_shares(ledger_db)))
    red = reverse(ledger_db, issuer, ReceiptRef(*first), "开错", "张晓梅", "李建国")
    stored = _shares(ledger_db)
    original, negated = stored[first], stored[(red.ref.code, red.ref.number)]
    assert [_fen(r) for r in negated] == [{k: -v for k, v in _fen(r).items()} for r in original]
    assert audit(ledger_db, "640100", audit_trust()).ok


def test_default_situation_of_a_grassroots_union_is_its_remittance(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    name = "宁夏贺兰山实业有限公司工会委员会"
    union = Payer(name, PayerKind.GRASSROOTS_UNION, uscc="81640100MA7600001K")
    remitted = IssueRequest(union, request(amount="400.00").items, "张晓梅", "李建国")
    outcome = issue(ledger_db, make_issuer(), remitted)
    (row,) = _shares(ledger_db)[(outcome.ref.code, outcome.ref.number)]
    assert row.situation == "grassroots_remits"
    assert _fen(row) == {
        "grassroots": 0,
        "county": 0,
        "city": 28000,
        "province": 10000,
        "national": 2000,
    }


_NEW_RULES = """
[sharing]
[[sharing.versions]]
effective_from = 2000-01-01
{default_rows}
[[sharing.versions]]
effective_from = {year}-11-01
source = "宁夏 {year} 年 11 月起"
[[sharing.versions.rows]]
item = "01"
situation = "enterprise_full"
grassroots = "60%"
county = "0"
city = "20%"
province = "15%"
national = "5%"
"""


def _default_rows() -> str:
    lines = [f'source = "{default_sharing_rules().versions[0].source}"']
    for row in default_sharing_rules().versions[0].rows.values():
        lines.append("[[sharing.versions.rows]]")
        lines.append(f'item = "{row.item}"')
        lines.append(f'situation = "{row.situation.value}"')
        for party in PARTY_ORDER:
            lines.append(f'{party.value} = "{row.shares[party]}"')
    return "\n".join(lines)


def test_a_rule_change_applies_from_its_date_only(ledger_db: Database, tmp_path: Path) -> None:
    # Last year's October and November: always past, and inside the tier PKI's validity (its
    # certificates start on 1 December of the year before last), whatever today is.
    year = tier_pki_start(datetime.now(UTC)).year + 1
    stock_city(ledger_db, tmp_path, count=10, year=year)
    import tomllib

    rules = _NEW_RULES.format(default_rows=_default_rows(), year=year)
    new = rules_from_toml(tomllib.loads(rules)["sharing"])
    october = make_issuer(clock=fixed_clock(datetime(year, 10, 31, 15, 0, tzinfo=UTC)))
    before = issue(ledger_db, october, _dues(f"{year}-10"))
    # The province (a city may not adopt its own) is played by the same ledger's table: adopt
    # needs a non-city org, and the check is the ledger's last issue day either way.
    adopt_own_table(ledger_db, NINGXIA.code, new, SHANGHAI, None)
    november = make_issuer(clock=fixed_clock(datetime(year, 11, 1, 1, 0, tzinfo=UTC)))
    after = issue(ledger_db, november, _dues(f"{year}-10"))
    stored = _shares(ledger_db)
    assert _fen(stored[(before.ref.code, before.ref.number)][0]) == {
        "grassroots": 60000,
        "county": 0,
        "city": 28000,
        "province": 10000,
        "national": 2000,
    }
    assert _fen(stored[(after.ref.code, after.ref.number)][0]) == {
        "grassroots": 60000,
        "county": 0,
        "city": 20000,
        "province": 15000,
        "national": 5000,
    }
    # A table whose change would reach back to a day receipts were issued on is refused.
    back = rules.replace(f"{year}-11-01", f"{year}-10-31")
    late = rules_from_toml(tomllib.loads(back)["sharing"])
    with pytest.raises(InvalidInput, match=r"drop or change|would change"):
        adopt_own_table(ledger_db, NINGXIA.code, late, SHANGHAI, None)
    with ledger_db.read() as session:
        assert period_shares(session, "640100", f"{year}-10")[("01", Party.CITY)] == 28000
        assert period_shares(session, "640100", f"{year}-11")[("01", Party.CITY)] == 20000
    assert audit(ledger_db, "640100", audit_trust()).ok


def _dues(period: str) -> IssueRequest:
    """1,000.00 of union dues for ``period`` (a month not after the issue's, as the finance
    rules want)."""
    return request(items=(Item("01", "工会经费(拨缴)", period, Decimal("1000.00")),))


def test_audit_catches_a_rewritten_share_row(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    issuer = make_issuer()
    outcome = issue(ledger_db, issuer, request(amount="1000.00"))
    issue(ledger_db, issuer, request(amount="50.00"))
    assert audit(ledger_db, "640100", audit_trust()).ok
    with ledger_db.write() as (session, _):
        # Moved from the province to the city: still sums to the amount, so only a
        # recomputation can tell.
        session.execute(
            text(
                "UPDATE receipt_shares SET city_fen = city_fen + 100, "
                "province_fen = province_fen - 100 WHERE code = :c AND number = :n"
            ),
            {"c": outcome.ref.code, "n": outcome.ref.number},
        )
    report = audit(ledger_db, "640100", audit_trust())
    codes = [(f.code, f.message) for f in report.findings]
    assert codes == [
        (
            FindingCode.SHARE_MISMATCH,
            f"{outcome.ref.code}-{outcome.ref.number:010d}: "
            "stored shares differ from their recomputation",
        )
    ]
    with ledger_db.read() as session:
        assert session.scalar(select(ReceiptRow.number).limit(1)) is not None
