"""A synthetic national ledger on PostgreSQL, made in SQL with ``generate_series``: receipts of
two provinces over some years and a line each, ANALYZEd (tests/test_explain.py, and
``python -m bench.lookup_ledger``, which goes to ten million).

Every fiftieth receipt is a red receipt naming the one before it; each receipt's "XML" is 1 KB
that does not compress, so the heap is as wide as a real ledger's (signed XML of a few KB,
compressed in the row) and a plan that reads the heap where an index would do costs here what
it costs there. The statistics' triggers are left out of the fill (they would slow it tenfold
and nothing here reads the aggregates).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from receipts.ledger.database import Database
from receipts.ledger.partitions import ensure_years

__all__ = ["PROVINCES", "code_of", "fill_national"]

PROVINCES = ("64", "11")

_FILL = """
INSERT INTO receipts (code, number, issue_year, digest, issuer, kind, issued_at, period,
    check_code, payer_name, payer_kind, payer_id, total_fen, original_code, original_number, xml)
SELECT p || '7101' || lpad((y % 100)::text, 2, '0'), n, y,
    md5(p || y || '-' || n) || md5(n || '-' || y || p), p || '0100',
    CASE WHEN n % 50 = 0 THEN 'reversal' ELSE 'normal' END,
    make_timestamptz(y, 1 + n % 12, 1 + n % 28, 2, 0, 0, 'UTC'),
    y || '-' || lpad((1 + n % 12)::text, 2, '0'), 'abcdef', 'payer ' || n, 'enterprise', NULL,
    10000 + n,
    CASE WHEN n % 50 = 0 THEN p || '7101' || lpad((y % 100)::text, 2, '0') END,
    CASE WHEN n % 50 = 0 THEN n - 1 END,
    convert_to((SELECT string_agg(md5(p || y || n || i), '') FROM generate_series(1, 32) i),
        'UTF8')
FROM unnest(CAST(:years AS int[])) AS y, unnest(CAST(:provinces AS text[])) AS p,
    generate_series(CAST(:first AS int), CAST(:last AS int)) AS n
"""
_FILL_ITEMS = """
INSERT INTO receipt_items (code, number, line, issue_year, item_code, item_period, amount_fen)
SELECT p || '7101' || lpad((y % 100)::text, 2, '0'), n, 1, y, '01',
    y || '-' || lpad((1 + n % 12)::text, 2, '0'), 10000 + n
FROM unnest(CAST(:years AS int[])) AS y, unnest(CAST(:provinces AS text[])) AS p,
    generate_series(CAST(:first AS int), CAST(:last AS int)) AS n
"""
_CHUNK = 100_000


def code_of(province: str, year: int) -> str:
    """The receipt code the fill gives ``province``'s receipts of ``year``."""
    return f"{province}7101{year % 100:02d}"


def fill_national(db: Database, years: Sequence[int], per_year: int) -> int:
    """Fill the initialised ledger ``db`` with ``per_year`` receipts (numbered from 1) of each
    province and year, and their lines, a chunk of numbers a transaction; VACUUM ANALYZE; the
    number of receipts."""
    for first in range(1, per_year + 1, _CHUNK):
        bounds = {"first": first, "last": min(per_year, first + _CHUNK - 1)}
        with db.write() as (session, _state):
            ensure_years(session, years)
            session.execute(text("SET LOCAL session_replication_role = replica"))
            session.execute(
                text(_FILL), {"years": list(years), "provinces": list(PROVINCES), **bounds}
            )
            session.execute(
                text(_FILL_ITEMS), {"years": list(years), "provinces": list(PROVINCES), **bounds}
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # as autovacuum leaves a ledger: statistics, and the visibility map that lets a
        # covering index be read alone
        conn.execute(text("VACUUM ANALYZE receipts"))
        conn.execute(text("VACUUM ANALYZE receipt_items"))
    return per_year * len(years) * len(PROVINCES)
