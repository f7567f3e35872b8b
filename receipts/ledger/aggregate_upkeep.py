"""Keeping the statistics' aggregates (:mod:`receipts.ledger.aggregate_models`) true when
receipts leave the ledger's tables: a year detached from a partitioned PostgreSQL ledger
(docs/operations.md, "Partitions by year of issue"). Inserts need nothing here: the triggers of
migration 0016 handle them. No other path deletes or updates receipts or their lines.

:func:`forget_year` must run in the transaction that detaches the year, before the partitions
leave (it reads their rows): it takes the year's receipts and lines out of the aggregates,
under the status each has now, and puts back to ``issued`` any receipt of another year whose
only red receipts were of that year (once they are gone, the rows say it stands), so that the
aggregates stay what ``receipts audit`` recomputes from the rows that remain.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["forget_year"]

# A receipt's status in the statistics (receipts/stats/figures.py), as migration 0016 keeps it.
_STATUSED = """(SELECT r.code, r.number, r.issue_year, r.period, r.issuer, r.payer_kind,
    r.total_fen,
    CASE WHEN r.kind = 'reversal' THEN 'red'
         WHEN EXISTS (SELECT 1 FROM receipts x WHERE x.original_code = r.code
                      AND x.original_number = r.number AND x.kind = 'reversal') THEN 'reversed'
         ELSE 'issued' END AS status
    FROM receipts r WHERE r.kind IN ('normal', 'reversal'))"""

# Normal receipts of other years every red receipt of which is of the year. The original is
# read in its own year (its code's, as the CHECK of migration 0015 files it), so that PostgreSQL
# probes that year's partition only, not every year's (docs/operations.md, "Partitions by year
# of issue"). The CAST is the statistics' trigger's (migration 0017), which every red receipt
# stored on PostgreSQL has passed: it cannot fail here.
_ONLY_REDS_IN_YEAR = """(SELECT DISTINCT o.code, o.number, o.period, o.issuer, o.payer_kind,
    o.total_fen FROM receipts red
    JOIN receipts o ON o.code = red.original_code AND o.number = red.original_number
    AND o.issue_year = 2000 + CAST(substr(red.original_code, 7, 2) AS INTEGER)
    WHERE red.issue_year = :year AND red.kind = 'reversal'
    AND o.kind = 'normal' AND o.issue_year <> :year
    AND NOT EXISTS (SELECT 1 FROM receipts x WHERE x.original_code = o.code
                    AND x.original_number = o.number AND x.kind = 'reversal'
                    AND x.issue_year <> :year))"""

_ADD_RECEIPTS = """ON CONFLICT (period, issuer, payer_kind, status) DO UPDATE
    SET receipts = stats_receipts.receipts + excluded.receipts,
        fen = stats_receipts.fen + excluded.fen"""
_ADD_LINES = """ON CONFLICT (period, issuer, status, dimension, key) DO UPDATE
    SET receipts = stats_lines.receipts + excluded.receipts,
        fen = stats_lines.fen + excluded.fen"""

# (receipts, fen) changes: the year's receipts out, the others' moves back.
_DELTA = f"""SELECT c.code, c.number, c.period, c.issuer, c.payer_kind, c.total_fen, c.status,
    -1 AS sign FROM {_STATUSED} c WHERE c.issue_year = :year
    UNION ALL SELECT b.*, 'reversed', -1 FROM {_ONLY_REDS_IN_YEAR} b
    UNION ALL SELECT b.*, 'issued', 1 FROM {_ONLY_REDS_IN_YEAR} b"""  # noqa: S608 (constants)

_STATEMENTS = (
    f"""INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen)
    SELECT period, issuer, payer_kind, status, sum(sign), sum(sign * total_fen)
    FROM ({_DELTA}) d GROUP BY period, issuer, payer_kind, status
    {_ADD_RECEIPTS}""",  # noqa: S608 (constant fragments only)
    # A receipt counts once under each key of its lines, with their amount.
    f"""INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT period, issuer, status, dimension, key, sum(sign), sum(fen) FROM (
        SELECT d.period, d.issuer, d.status, k.dimension, k.key, d.sign,
               d.sign * sum(i.amount_fen) AS fen
        FROM ({_DELTA}) d JOIN receipt_items i ON i.code = d.code AND i.number = d.number
        CROSS JOIN LATERAL (VALUES ('item', i.item_code), ('paid', i.item_period))
            AS k(dimension, key)
        GROUP BY d.code, d.number, d.period, d.issuer, d.status, d.sign, k.dimension, k.key
    ) per_receipt GROUP BY period, issuer, status, dimension, key
    {_ADD_LINES}""",  # noqa: S608 (constant fragments only)
)


def forget_year(connection: Connection, year: int) -> None:
    """Take the receipts of ``year`` (by ``issue_year``) out of the aggregates, in the
    connection's transaction, before its partitions are detached (PostgreSQL, the only back
    end with partitions)."""
    for statement in _STATEMENTS:
        connection.execute(text(statement), {"year": year})
