"""The audit of the statistics' aggregates (docs/statistics.md): ``stats_receipts`` and
``stats_lines`` recomputed from the receipt rows with GROUP BY, held against the stored ones.

The aggregates are derived data the triggers of migration 0016 keep, so an insider who edits
them in SQL (a month's amount lowered, a red receipt's count dropped) changes what ``receipts
stats`` says without touching a receipt. Every aggregate row that differs from the rows, and
every one missing or left over, is a ``stats-mismatch``; a stored row at zero (left when a red
receipt moved its original) stands for no receipts and matches a missing one. The receipt rows
themselves are checked against their signed XML by :mod:`receipts.audit.rows`.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.aggregate_models import StatsLineRow, StatsReceiptRow

__all__ = ["DERIVED_LINES", "DERIVED_RECEIPTS", "check_aggregates"]

_Sums = dict[tuple[str, ...], tuple[int, int]]

# A receipt's status in the statistics (receipts/stats/figures.py), as migration 0016 keeps it.
_STATUSED = """(SELECT r.code, r.number, r.period, r.issuer, r.payer_kind, r.total_fen,
    CASE WHEN r.kind = 'reversal' THEN 'red'
         WHEN EXISTS (SELECT 1 FROM receipts x WHERE x.original_code = r.code
                      AND x.original_number = r.number AND x.kind = 'reversal') THEN 'reversed'
         ELSE 'issued' END AS status
    FROM receipts r WHERE r.kind IN ('normal', 'reversal'))"""

#: What ``stats_receipts`` must hold: its columns in order, from the receipt rows.
DERIVED_RECEIPTS = f"""SELECT period, issuer, payer_kind, status, count(*), sum(total_fen)
    FROM {_STATUSED} c GROUP BY period, issuer, payer_kind, status"""  # noqa: S608 (constants)

#: What ``stats_lines`` must hold: its columns in order, from the receipt rows and their lines
#: (a receipt counts once under each key of its lines; its lines' amounts add up).
DERIVED_LINES = f"""SELECT period, issuer, status, dimension, key, count(*), sum(fen) FROM (
    SELECT c.period, c.issuer, c.status, k.dimension, k.key, sum(k.amount_fen) AS fen
    FROM {_STATUSED} c JOIN (
        SELECT code, number, 'item' AS dimension, item_code AS key, amount_fen
        FROM receipt_items
        UNION ALL SELECT code, number, 'paid', item_period, amount_fen FROM receipt_items) k
    ON k.code = c.code AND k.number = c.number
    GROUP BY c.code, c.number, c.period, c.issuer, c.status, k.dimension, k.key) per_receipt
    GROUP BY period, issuer, status, dimension, key"""  # noqa: S608 (constants)


def check_aggregates(session: Session) -> list[Finding]:
    """Both aggregate tables against the receipt rows."""
    receipts = session.execute(
        select(
            StatsReceiptRow.period,
            StatsReceiptRow.issuer,
            StatsReceiptRow.payer_kind,
            StatsReceiptRow.status,
            StatsReceiptRow.receipts,
            StatsReceiptRow.fen,
        )
    )
    lines = session.execute(
        select(
            StatsLineRow.period,
            StatsLineRow.issuer,
            StatsLineRow.status,
            StatsLineRow.dimension,
            StatsLineRow.key,
            StatsLineRow.receipts,
            StatsLineRow.fen,
        )
    )
    return _compare(
        "stats_receipts", _sums(receipts), _sums(session.execute(text(DERIVED_RECEIPTS)))
    ) + _compare("stats_lines", _sums(lines), _sums(session.execute(text(DERIVED_LINES))))


def _sums(rows: object) -> _Sums:
    """Rows of (key columns..., receipts, fen) by key, rows at zero left out."""
    out: _Sums = {}
    for row in rows:  # type: ignore[attr-defined]
        *key, receipts, fen = tuple(row)
        if int(receipts) or int(fen):
            out[tuple(str(k) for k in key)] = (int(receipts), int(fen))
    return out


def _compare(table: str, stored: _Sums, derived: _Sums) -> list[Finding]:
    findings = []
    for key in sorted(stored.keys() | derived.keys()):
        have, want = stored.get(key, (0, 0)), derived.get(key, (0, 0))
        if have != want:
            findings.append(
                Finding(
                    FindingCode.STATS_MISMATCH,
                    f"{table} {'/'.join(key)}: {have[0]} receipts, {have[1]} fen stored; "
                    f"the receipt rows make {want[0]} receipts, {want[1]} fen",
                )
            )
    return findings
