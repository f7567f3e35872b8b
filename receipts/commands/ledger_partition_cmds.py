"""``receipts ledger partitions | detach-year``: a PostgreSQL ledger's receipts by year of issue,
and detaching a closed year once its archives are verified (docs/operations.md, "Partitions by
year of issue")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from receipts.commands.archive_cmds import ARCHIVES
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.support.sizes import MAX_PACKAGE_FILE_BYTES, MAX_PEM_BYTES, read_bounded

__all__ = ["ledger", "ledger_detach_year", "ledger_partitions"]


@click.group("ledger")
def ledger() -> None:
    """The ledger's receipts by year of issue: partitions, detaching a closed year."""


_PARTITIONS_EXAMPLE = """\b
Example:
  receipts --db postgresql+psycopg://ledger@db/national ledger partitions

\b
Rows are PostgreSQL's estimates as of the last ANALYZE (counted on SQLite, which keeps one
table); the DEFAULT partition is counted, and should hold nothing."""


@ledger.command("partitions", epilog=_PARTITIONS_EXAMPLE)
@click.option(
    "--move-default",
    is_flag=True,
    help="First give each year found in the DEFAULT partition its own partition and move its "
    "rows there (admin; PostgreSQL).",
)
@with_context
def ledger_partitions(ctx: Context, move_default: bool) -> None:
    """The receipts table's years: rows, item rows and size on disk of each."""
    from receipts.ledger.partitions import list_partitions, move_default_years

    ws = ctx.workspace()
    db = ctx.database(ws)
    if move_default:
        ctx.require(ws, "admin", action="moving receipts out of the DEFAULT partition")
        with db.write() as (session, _state):
            move_default_years(session)
    with db.engine.connect() as connection:
        found = list_partitions(connection)
    data: list[dict[str, Any]] = [
        {
            "year": p.year,
            "table": p.table,
            "receipts": p.receipts,
            "items": p.items,
            "bytes": p.size,
        }
        for p in found
    ]

    def human() -> str:
        if not data:
            return "no receipts"
        rows = [
            (
                "default" if d["year"] is None else d["year"],
                d["table"],
                d["receipts"],
                d["items"],
                "" if d["bytes"] is None else f"{d['bytes'] / 2**20:.1f} MiB",
            )
            for d in data
        ]
        return format_table(("year", "table", "receipts", "items", "size"), rows)

    ctx.emit(data, human)


_DETACH_EXAMPLE = """\b
Example:
  receipts --db postgresql+psycopg://ledger@db/national ledger detach-year 2025 \\
      archives/000000-2025.zip archives/110000-2025.zip --trust national-trust.pem

\b
Refused unless every archive verifies and every receipt of the year (each one its events
record, each row of its partition) is in one of them with the same SHA-256. The year's
partitions become plain tables (receipts_2025_detached, receipt_items_2025_detached), kept."""


@ledger.command("detach-year", epilog=_DETACH_EXAMPLE)
@click.argument("year", type=click.IntRange(2000, 2099))
@ARCHIVES
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust bundle the archives are verified against (default: the workspace's).",
)
@with_context
def ledger_detach_year(
    ctx: Context, year: int, archives: tuple[Path, ...], trust: Path | None
) -> None:
    """Detach a past year's receipts from a PostgreSQL ledger once archived and verified."""
    from receipts.archive.detach import detach_year
    from signing.trust import TrustBundle

    ws = ctx.workspace()
    ctx.require(ws, "admin", action="detaching a year of receipts")
    creds = ctx.credentials(ws)
    bundle = (
        TrustBundle.from_pem(read_bounded(trust, MAX_PEM_BYTES, "a trust bundle"))
        if trust is not None
        else creds.trust
    )
    packages = [(p.name, read_bounded(p, MAX_PACKAGE_FILE_BYTES, "an archive")) for p in archives]
    today = datetime.now(ws.config.zone).year
    done = detach_year(ctx.database(ws), year, packages, bundle, creds.signer_if_any(), today)
    data = {
        "year": done.year,
        "receipts": done.receipts,
        "archives": list(done.archives),
        "tables": list(done.tables),
    }
    ctx.emit(
        data,
        lambda: (
            f"detached {done.year}: {done.receipts} receipt(s), kept as {', '.join(done.tables)}"
        ),
    )
