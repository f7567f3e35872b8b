"""``receipts reconcile stock``: the 核销 check of number segments against what was issued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from receipts.commands.reconcile_report import csv_option, finish, json_option, table
from receipts.commands.runtime import Context, with_context
from receipts.findings import FindingCode
from receipts.reconcile.stock import StockReport
from receipts.reconcile.stock import reconcile_stock as check_stock
from receipts.workspace import WorkspaceKind

__all__ = ["reconcile_stock"]

_STOCK_COLUMNS = (
    "kind",
    "subject",
    "holder",
    "allocated_by",
    "status",
    "issued",
    "reversed",
    "red",
    "unused",
    "gaps",
    "gap_numbers",
)

_SHOWN_COLUMNS = [
    "kind",
    "subject",
    "holder",
    "status",
    "issued",
    "reversed",
    "red",
    "unused",
    "gaps",
]


@click.command("stock", epilog="\b\nExample:\n  receipts reconcile stock --csv stock.csv")
@click.option("--holder", help="Only this holder's segments and receipts.")
@csv_option
@json_option
@with_context
def reconcile_stock(ctx: Context, holder: str | None, csv_path: Path | None, as_json: bool) -> None:
    """核销 check of every segment held or allocated: issued, reversed, red and unused
    numbers and gaps (none allowed), and receipts outside every segment of their issuer."""
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    report = check_stock(ctx.database(ws), holder)
    rows = _stock_rows(report)

    def human() -> str:
        if not rows:
            return "no segments"
        verdict = "PROBLEMS" if report.discrepancies else "OK"
        return (
            f"{verdict}: {len(report.segments)} segment(s), {len(report.outside)} "
            f"receipt(s) outside them\n\n" + table(rows, _SHOWN_COLUMNS)
        )

    data = {"ok": not report.discrepancies, "lines": rows}
    finish(ctx, data, human, rows, _STOCK_COLUMNS, csv_path, report.discrepancies)


def _stock_rows(report: StockReport) -> list[dict[str, Any]]:
    rows = []
    for s in report.segments:
        u = s.usage
        shown = " ".join(str(n) for n in u.gaps[:20]) + (" …" if len(u.gaps) > 20 else "")
        rows.append(
            {
                "kind": FindingCode.SEGMENT_GAPS if u.gaps else FindingCode.SEGMENT_OK,
                "subject": s.label,
                "holder": s.holder,
                "allocated_by": s.allocated_by,
                "status": "written off" if s.written_off else "open",
                "issued": u.issued,
                "reversed": u.reversed,
                "red": u.red,
                "unused": u.unused,
                "gaps": len(u.gaps),
                "gap_numbers": shown,
            }
        )
    for o in report.outside:
        rows.append(
            {
                "kind": FindingCode.OUTSIDE_SEGMENT,
                "subject": f"{o.code}-{o.number:010d}",
                "holder": o.issuer,
                "allocated_by": "",
                "status": o.kind,
                "issued": "",
                "reversed": "",
                "red": "",
                "unused": "",
                "gaps": "",
                "gap_numbers": "",
            }
        )
    return rows
