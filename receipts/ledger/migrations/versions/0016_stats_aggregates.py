"""The statistics' aggregates (docs/statistics.md): ``stats_receipts`` and ``stats_lines``, kept
by triggers in the transaction of every insert into ``receipts`` and ``receipt_items``, filled
from the rows already stored.

Triggers, not Python, so that no write path (issuing, booking, transmission import, archive
restore, a test writing rows) can forget them. PostgreSQL: one statement-level trigger per table
with a transition table (``REFERENCING NEW TABLE``), so a COPY of a whole batch updates each
aggregate row once; statement-level triggers with transition tables are allowed on a partitioned
table and see the rows of every partition (PostgreSQL 10+, "CREATE TRIGGER"), so they keep
working when receipts are partitioned by year. SQLite: row-level triggers.

Both orders are handled: a receipt's lines may be stored before or after it (the trigger of the
second to arrive counts them), and a red receipt before or after its original (the original
arrives ``reversed``, or moves from ``issued`` to ``reversed`` when its first red receipt
arrives). The ledger never updates or deletes receipts or their lines; an insider who does is
found by ``receipts audit`` (``stats-mismatch``), which recomputes these tables from the rows.

Revision ID: 0016
Revises: 0014 (after 0015)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
# After 0015, which rebuilds receipts and receipt_items (partitions by year) and so would drop
# triggers made on the tables it replaces.
down_revision = "0015"
branch_labels = None
depends_on = None

# A stored receipt's status in the statistics (receipts/stats/figures.py); ``{r}`` names it.
_STATUS = """CASE WHEN {r}.kind = 'reversal' THEN 'red'
    WHEN EXISTS (SELECT 1 FROM receipts x WHERE x.original_code = {r}.code
                 AND x.original_number = {r}.number AND x.kind = 'reversal') THEN 'reversed'
    ELSE 'issued' END"""
# The same for a few rows among many: a count per row is an index probe each, where PostgreSQL
# may plan EXISTS as one hashed scan of every receipt (right for the backfill, not a trigger).
_STATUS_PROBED = """CASE WHEN {r}.kind = 'reversal' THEN 'red'
    WHEN (SELECT count(*) FROM receipts x WHERE x.original_code = {r}.code
          AND x.original_number = {r}.number AND x.kind = 'reversal') > 0 THEN 'reversed'
    ELSE 'issued' END"""
_KINDS = "('normal', 'reversal')"
_ADD_RECEIPTS = """ON CONFLICT (period, issuer, payer_kind, status) DO UPDATE
    SET receipts = stats_receipts.receipts + excluded.receipts,
        fen = stats_receipts.fen + excluded.fen"""
_ADD_LINES = """ON CONFLICT (period, issuer, status, dimension, key) DO UPDATE
    SET receipts = stats_lines.receipts + excluded.receipts,
        fen = stats_lines.fen + excluded.fen"""
# A receipt line under each line dimension.
_KEYED_ITEMS = """(SELECT code, number, 'item' AS dimension, item_code AS key, amount_fen FROM
    receipt_items UNION ALL SELECT code, number, 'paid', item_period, amount_fen FROM
    receipt_items)"""

_BACKFILL = [
    f"""INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen)
    SELECT period, issuer, payer_kind, status, count(*), sum(total_fen) FROM (
        SELECT r.period, r.issuer, r.payer_kind, r.total_fen, {_STATUS.format(r="r")} AS status
        FROM receipts r WHERE r.kind IN {_KINDS}) c
    GROUP BY period, issuer, payer_kind, status""",  # noqa: S608 (constant fragments only)
    f"""INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT period, issuer, status, dimension, key, count(*), sum(fen) FROM (
        SELECT c.period, c.issuer, c.status, k.dimension, k.key, sum(k.amount_fen) AS fen
        FROM (SELECT r.code, r.number, r.period, r.issuer, {_STATUS.format(r="r")} AS status
              FROM receipts r WHERE r.kind IN {_KINDS}) c
        JOIN {_KEYED_ITEMS} k ON k.code = c.code AND k.number = c.number
        GROUP BY c.code, c.number, c.period, c.issuer, c.status, k.dimension, k.key) per_receipt
    GROUP BY period, issuer, status, dimension, key""",  # noqa: S608
]

# In the PostgreSQL triggers, ``LATERAL (... OFFSET 0)`` looks each new row's receipt or lines
# up by its key (an index probe): as a plain join, a batch of 100,000 could be planned as a hash
# join over every stored receipt, a scan of the whole table on each COPY.
_PG_RECEIPTS = f"""
CREATE FUNCTION stats_receipts_inserted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT SET work_mem = '64MB' AS $$
BEGIN
    WITH red_of AS (  -- the originals of this statement's red receipts
        SELECT original_code AS code, original_number AS number, count(*) AS reds
        FROM new_receipts WHERE kind = 'reversal' GROUP BY original_code, original_number
    ), fresh AS (  -- the new receipts, with their status before this statement's reds
        SELECT n.code, n.number, n.period, n.issuer, n.payer_kind, n.total_fen,
               CASE WHEN n.kind = 'reversal' THEN 'red'
                    WHEN (SELECT count(*) FROM receipts x WHERE x.original_code = n.code
                          AND x.original_number = n.number AND x.kind = 'reversal')
                         > coalesce(o.reds, 0) THEN 'reversed'
                    ELSE 'issued' END AS status
        FROM new_receipts n LEFT JOIN red_of o ON o.code = n.code AND o.number = n.number
        WHERE n.kind IN {_KINDS}
    ), moved AS (  -- normal receipts (new or stored) standing until this statement's reds
        SELECT o.code, o.number, o.period, o.issuer, o.payer_kind, o.total_fen
        FROM red_of r CROSS JOIN LATERAL (SELECT * FROM receipts o WHERE o.code = r.code
            AND o.number = r.number OFFSET 0) o
        WHERE o.kind = 'normal'
          AND (SELECT count(*) FROM receipts x WHERE x.original_code = o.code
               AND x.original_number = o.number AND x.kind = 'reversal') = r.reds
    ), touched AS (
        SELECT code, number, period, issuer, payer_kind, total_fen, status, 1 AS sign FROM fresh
        UNION ALL SELECT code, number, period, issuer, payer_kind, total_fen, 'issued', -1
        FROM moved
        UNION ALL SELECT code, number, period, issuer, payer_kind, total_fen, 'reversed', 1
        FROM moved
    ), receipts_added AS (
        INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen)
        SELECT period, issuer, payer_kind, status, sum(sign), sum(sign * total_fen)
        FROM touched GROUP BY period, issuer, payer_kind, status
        {_ADD_RECEIPTS}
    ), per_receipt AS (  -- lines stored before their receipt, and the moved originals' lines
        SELECT t.period, t.issuer, t.status, k.dimension, k.key, t.sign,
               t.sign * sum(i.amount_fen) AS fen
        FROM touched t CROSS JOIN LATERAL (SELECT i.item_code, i.item_period, i.amount_fen
            FROM receipt_items i WHERE i.code = t.code AND i.number = t.number OFFSET 0) i
        CROSS JOIN LATERAL (VALUES ('item', i.item_code), ('paid', i.item_period))
            AS k(dimension, key)
        GROUP BY t.code, t.number, t.period, t.issuer, t.status, t.sign, k.dimension, k.key
    )
    INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT period, issuer, status, dimension, key, sum(sign), sum(fen)
    FROM per_receipt GROUP BY period, issuer, status, dimension, key
    {_ADD_LINES};
    RETURN NULL;
END $$;
CREATE TRIGGER stats_receipts_inserted AFTER INSERT ON receipts
    REFERENCING NEW TABLE AS new_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION stats_receipts_inserted();
"""  # noqa: S608

_PG_ITEMS = f"""
CREATE FUNCTION stats_items_inserted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT SET work_mem = '64MB' AS $$
BEGIN
    -- MATERIALIZED: the status and the count of lines once per receipt, not per key of it
    WITH owners AS MATERIALIZED (  -- the stored receipts of the new lines, with their status
        SELECT r.code, r.number, r.period, r.issuer, {_STATUS_PROBED.format(r="r")} AS status,
               (SELECT count(*) FROM receipt_items i WHERE i.code = r.code
                AND i.number = r.number) > n.lines AS earlier
        FROM (SELECT code, number, count(*) AS lines FROM new_items GROUP BY code, number) n
        CROSS JOIN LATERAL (SELECT * FROM receipts r WHERE r.code = n.code
            AND r.number = n.number OFFSET 0) r
        WHERE r.kind IN {_KINDS}
    ), keyed AS (
        SELECT n.code, n.number, k.dimension, k.key, count(*) AS lines,
               sum(n.amount_fen) AS fen
        FROM new_items n
        CROSS JOIN LATERAL (VALUES ('item', n.item_code), ('paid', n.item_period))
            AS k(dimension, key)
        GROUP BY n.code, n.number, k.dimension, k.key
    )
    INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT o.period, o.issuer, o.status, g.dimension, g.key,
           -- a receipt counts once under a key: not again for a later line of that key
           sum(CASE WHEN o.earlier AND (SELECT count(*) FROM receipt_items i
                    WHERE i.code = g.code AND i.number = g.number
                    AND CASE g.dimension WHEN 'item' THEN i.item_code ELSE i.item_period END
                        = g.key) > g.lines THEN 0 ELSE 1 END),
           sum(g.fen)
    FROM keyed g JOIN owners o ON o.code = g.code AND o.number = g.number
    GROUP BY o.period, o.issuer, o.status, g.dimension, g.key
    {_ADD_LINES};
    RETURN NULL;
END $$;
CREATE TRIGGER stats_items_inserted AFTER INSERT ON receipt_items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION stats_items_inserted();
"""  # noqa: S608

_SQLITE = [
    f"""CREATE TRIGGER stats_receipt_inserted AFTER INSERT ON receipts
    WHEN NEW.kind IN {_KINDS} BEGIN
    INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen)
    SELECT NEW.period, NEW.issuer, NEW.payer_kind, {_STATUS.format(r="NEW")}, 1, NEW.total_fen
    WHERE true {_ADD_RECEIPTS};
    INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT NEW.period, NEW.issuer, {_STATUS.format(r="NEW")}, dimension, key, 1,
           sum(amount_fen)
    FROM {_KEYED_ITEMS} WHERE code = NEW.code AND number = NEW.number
    GROUP BY dimension, key {_ADD_LINES};
    END""",  # noqa: S608
    # The first red receipt of a stored original moves it (and its lines) to ``reversed``.
    f"""CREATE TRIGGER stats_red_inserted AFTER INSERT ON receipts
    WHEN NEW.kind = 'reversal' BEGIN
    INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen)
    SELECT o.period, o.issuer, o.payer_kind, m.status, m.sign, m.sign * o.total_fen
    FROM receipts o, (SELECT 'issued' AS status, -1 AS sign
                      UNION ALL SELECT 'reversed', 1) m
    WHERE o.code = NEW.original_code AND o.number = NEW.original_number
      AND o.kind = 'normal' AND (SELECT count(*) FROM receipts x
          WHERE x.original_code = o.code AND x.original_number = o.number
          AND x.kind = 'reversal') = 1
    {_ADD_RECEIPTS};
    INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT o.period, o.issuer, m.status, k.dimension, k.key, m.sign,
           m.sign * sum(k.amount_fen)
    FROM receipts o JOIN {_KEYED_ITEMS} k ON k.code = o.code AND k.number = o.number,
         (SELECT 'issued' AS status, -1 AS sign UNION ALL SELECT 'reversed', 1) m
    WHERE o.code = NEW.original_code AND o.number = NEW.original_number
      AND o.kind = 'normal' AND (SELECT count(*) FROM receipts x
          WHERE x.original_code = o.code AND x.original_number = o.number
          AND x.kind = 'reversal') = 1
    GROUP BY m.status, m.sign, k.dimension, k.key {_ADD_LINES};
    END""",  # noqa: S608
    f"""CREATE TRIGGER stats_item_inserted AFTER INSERT ON receipt_items BEGIN
    INSERT INTO stats_lines (period, issuer, status, dimension, key, receipts, fen)
    SELECT r.period, r.issuer, {_STATUS.format(r="r")}, k.dimension, k.key,
           CASE WHEN (SELECT count(*) FROM receipt_items i
                      WHERE i.code = NEW.code AND i.number = NEW.number
                      AND CASE k.dimension WHEN 'item' THEN i.item_code
                          ELSE i.item_period END = k.key) = 1 THEN 1 ELSE 0 END,
           NEW.amount_fen
    FROM receipts r, (SELECT 'item' AS dimension, NEW.item_code AS key
                      UNION ALL SELECT 'paid', NEW.item_period) k
    WHERE r.code = NEW.code AND r.number = NEW.number AND r.kind IN {_KINDS}
    {_ADD_LINES};
    END""",  # noqa: S608
]


def upgrade() -> None:
    op.create_table(
        "stats_receipts",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("issuer", sa.String(6), primary_key=True),
        sa.Column("payer_kind", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(8), primary_key=True),
        sa.Column("receipts", sa.BigInteger(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "stats_lines",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("issuer", sa.String(6), primary_key=True),
        sa.Column("status", sa.String(8), primary_key=True),
        sa.Column("dimension", sa.String(5), primary_key=True),
        sa.Column("key", sa.String(15), primary_key=True),
        sa.Column("receipts", sa.BigInteger(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
    )
    for statement in _BACKFILL:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_RECEIPTS)
        op.execute(_PG_ITEMS)
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER stats_items_inserted ON receipt_items")
        op.execute("DROP TRIGGER stats_receipts_inserted ON receipts")
        op.execute("DROP FUNCTION stats_items_inserted()")
        op.execute("DROP FUNCTION stats_receipts_inserted()")
    else:
        for name in ("stats_item_inserted", "stats_red_inserted", "stats_receipt_inserted"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("stats_lines")
    op.drop_table("stats_receipts")
