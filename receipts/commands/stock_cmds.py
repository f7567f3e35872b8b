"""``receipts stock``: number segments allocated down the tiers (票据领用) and closed (核销)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.identifiers import make_receipt_code, parse_segment
from receipts.errors import InvalidInput
from receipts.issuing.effective_rules import rules_to_allocate
from receipts.issuing.registry import find_organisation
from receipts.issuing.stock_accounting import segment_usage, write_off
from receipts.issuing.stock_allocation import allocate, import_allocation
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_XML_FILE_BYTES, read_bounded
from receipts.workspace import WorkspaceKind

__all__ = ["stock", "stock_allocate", "stock_import", "stock_list", "stock_write_off"]


@click.group("stock")
def stock() -> None:
    """Receipt number segments (票据领用, 核销)."""


@stock.command(
    "allocate",
    epilog="\b\nExample (at the province):\n"
    "  receipts stock allocate --to 640100 --count 5000 -o 640100-2026.xml",
)
@click.option("--to", "holder", required=True, help="Holder's org code (self or a child).")
@click.option("--count", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--year", type=click.IntRange(2000, 2099), help="Year of issue (default now).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@with_context
def stock_allocate(
    ctx: Context, holder: str, count: int, year: int | None, output: Path | None
) -> None:
    """Allocate the next free numbers of this federation's receipt code to a holder."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="allocating stock")
    me = ws.config.organisation()
    # Refuse before any number is taken: allocated numbers with no file to send are lost to both.
    if output is None and holder != me.code:
        raise InvalidInput("give -o FILE: the holder imports the signed allocation file")
    db = ctx.database(ws)
    if holder == me.code:
        target = me
    else:
        found = find_organisation(db, holder)
        if found is None:
            raise InvalidInput(f"{holder} is not registered: run 'receipts org add' first")
        target = found
    when = datetime.now(ws.config.zone)
    if year is not None:
        when = when.replace(year=year, month=1, day=1)
    code = make_receipt_code(me.province, when, ws.config.category, ws.config.series)
    rules = rules_to_allocate(ws.config)  # signed into the file: the holder applies them
    allocation, document = allocate(
        db, ctx.credentials(ws).signer, target, code, count, None, rules
    )
    if output is not None:
        write_atomic(output, document)
    label = allocation.label
    ctx.emit(
        {"segment": label, "holder": holder, "file": str(output) if output else None},
        lambda: f"allocated {label} to {holder}" + (f" → {output}" if output else ""),
    )


@stock.command("import", epilog="\b\nExample:\n  receipts stock import 640100-2026.xml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_context
def stock_import(ctx: Context, file: Path) -> None:
    """Import a signed allocation made to this federation (twice changes nothing)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="importing stock")
    creds = ctx.credentials(ws)
    allocation, new = import_allocation(
        ctx.database(ws),
        read_bounded(file, MAX_XML_FILE_BYTES, "an allocation file"),
        creds.validator,
        ws.ledger_owner,
        creds.signer_if_any(),
    )
    ctx.emit(
        {"segment": allocation.label, "from": allocation.allocator, "imported": new},
        lambda: (
            f"imported {allocation.label} from {allocation.allocator}"
            if new
            else f"already imported: {allocation.label}"
        ),
    )


@stock.command("list", epilog="\b\nExample:\n  receipts stock list")
@click.option("--holder", help="Only this holder's segments.")
@with_context
def stock_list(ctx: Context, holder: str | None) -> None:
    """Segments with used and free numbers."""
    ws = ctx.workspace()
    usage = segment_usage(ctx.database(ws), holder)
    rows = [
        [
            f"{u.code}:{u.first}-{u.last}",
            u.holder,
            u.allocated_by,
            u.issued,
            u.free,
            "written off" if u.written_off else "open",
        ]
        for u in usage
    ]
    headers = ["segment", "holder", "allocated by", "used", "free", "status"]
    ctx.emit(
        [dict(zip(headers, r, strict=True)) for r in rows],
        lambda: format_table(headers, rows) if rows else "no segments",
    )


@stock.command("write-off", epilog="\b\nExample:\n  receipts stock write-off 64710126:1-5000")
@click.argument("segment")
@with_context
def stock_write_off(ctx: Context, segment: str) -> None:
    """Close a segment (核销): issued, reversed and unused numbers accounted for."""
    code, first, last = parse_segment(segment)
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="writing off stock")
    report = write_off(
        ctx.database(ws),
        ws.ledger_owner,
        code,
        first,
        last,
        ctx.credentials(ws).signer_if_any(),
    )
    data = {
        "segment": segment,
        "issued": report.issued,
        "reversed": report.reversed,
        "red": report.red,
        "unused": report.unused,
    }
    ctx.emit(data, lambda: format_table(list(data), [list(data.values())]))
