"""``receipts period close | list``: months in which nothing changes any more."""

from __future__ import annotations

from datetime import datetime

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.issuing.periods import close_period, closed_periods
from receipts.workspace import WorkspaceKind

__all__ = ["period", "period_close", "period_list"]


@click.group("period")
def period() -> None:
    """Closed periods: months in which nothing changes any more."""


@period.command("close", epilog="\b\nExample:\n  receipts period close 2026-10")
@click.argument("month")
@with_context
def period_close(ctx: Context, month: str) -> None:
    """Close a month of this federation's own issuing (imports are not blocked)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    now = datetime.now(ws.config.zone).strftime("%Y-%m")
    new = close_period(ctx.database(ws), month, now, ctx.credentials(ws).signer_if_any())
    ctx.emit(
        {"period": month, "closed": True, "new": new},
        lambda: f"closed {month}" if new else f"{month} was closed already",
    )


@period.command("list", epilog="\b\nExample:\n  receipts period list")
@with_context
def period_list(ctx: Context) -> None:
    """Closed months."""
    ws = ctx.workspace()
    rows = [
        [p.period, f"{p.closed_at:%Y-%m-%d %H:%M} UTC"] for p in closed_periods(ctx.database(ws))
    ]
    ctx.emit(
        [{"period": r[0], "closed_at": r[1]} for r in rows],
        lambda: format_table(["period", "closed"], rows) if rows else "none closed",
    )
