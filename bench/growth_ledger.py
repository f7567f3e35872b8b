"""The ledger ``bench.growth`` grows: a province's (640000) ledger in a schema of the
PostgreSQL database, with the province's and a city's (640100) workspaces beside it, grown in
place with ``bench.stats``' generator from one size to the next (bench/growth.py)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sqlalchemy import text

from bench.growth_steps import OFFSET

__all__ = ["CITY", "PROVINCE", "Ledger"]

#: Rows inserted per transaction while the ledger grows.
_CHUNK = 1_000_000
PROVINCE, CITY = "640000", "640100"


class Ledger:
    """The province's ledger in schema ``name`` and the two workspaces beside it (in ``state``;
    not made when ``workspaces`` is false)."""

    def __init__(self, base: str, name: str, state: Path, workspaces: bool = True) -> None:
        from sqlalchemy import create_engine, text

        from receipts.ledger.database import Database
        from receipts.ledger.migrate import initialise
        from tests.support.postgres import pg_schema_url
        from tests.support.workspaces import federation, receipts

        self.base, self.name, self.state = base, name, state
        self.url = pg_schema_url(base, name)
        self.province, self.city = state / "province", state / "city"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            fresh = not conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": name}
            ).first()
            if fresh:
                conn.execute(text(f"CREATE SCHEMA {name}"))
        admin.dispose()
        self.db = Database(self.url)
        if fresh:
            initialise(self.db, PROVINCE)
        if not workspaces:  # only the steps in this process, which take the URL alone
            return
        if not self.province.exists():
            if not fresh:
                # the kept ledger's receipts were signed with the keys of the workspaces
                # made with it (each process's test PKI is its own): keep them together
                raise SystemExit(f"schema {name} is kept but its workspaces ({state}) are gone")
            state.mkdir(parents=True, exist_ok=True)
            federation(self.province, PROVINCE)
            federation(self.city, CITY)
            result = receipts(self.province, "org", "add", "--code", CITY, db=self.url)
            assert result.exit_code == 0, result.output

    def held(self) -> int:
        with self.db.engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM receipts WHERE number >= :first"), {"first": OFFSET}
            ).scalar_one()
        return int(found)

    def grow(self, n: int) -> float:
        """Synthetic receipts until the ledger holds ``n`` of them; the seconds it took."""

        from bench.stats import _YEARS, _items_sql, _receipts_sql

        start = time.perf_counter()
        held = self.held()
        for lo in range(OFFSET + held, OFFSET + n, _CHUNK):
            hi = min(lo + _CHUNK, OFFSET + n) - 1
            with self.db.engine.begin() as conn:
                conn.execute(text(_receipts_sql(_YEARS)), {"lo": lo, "hi": hi})
                conn.execute(text(_items_sql(_YEARS)), {"lo": lo, "hi": hi})
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("receipts", "receipt_items", "stats_receipts", "stats_lines"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        return time.perf_counter() - start

    def size_mb(self) -> float:

        with self.db.engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace s ON s.oid = c.relnamespace "
                    "WHERE s.nspname = :name AND c.relkind IN ('r', 'm')"
                ),
                {"name": self.name},
            ).scalar_one()
        return float(found or 0) / 1e6

    def drop(self) -> None:
        from sqlalchemy import create_engine, text

        self.db.dispose()
        admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {self.name} CASCADE"))
        admin.dispose()
        shutil.rmtree(self.state, ignore_errors=True)
