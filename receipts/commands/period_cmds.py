"""``receipts period close | reopen | list``: months in which nothing changes any more
(docs/operations.md, "Closing and reopening periods")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.issuing.periods import close_period, closed_periods, reopen_period, reopened_periods
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["period", "period_close", "period_list", "period_reopen"]


@click.group("period")
def period() -> None:
    """Closed periods: months in which nothing changes any more."""


_CLOSE_EXAMPLES = """\b
Examples:
  receipts period close 2026-10
  receipts period close 2026-11 --force     (the running month, on its last day)"""


@period.command("close", epilog=_CLOSE_EXAMPLES)
@click.argument("month")
@click.option(
    "--force",
    is_flag=True,
    help="Close the running month too (nothing more can be issued in it this month).",
)
@with_context
def period_close(ctx: Context, month: str, force: bool) -> None:
    """Close a month of this federation's own issuing (imports are not blocked)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "reviewer", action="closing periods")
    now = datetime.now(ws.config.zone).strftime("%Y-%m")
    operator = _operator_name(ctx, ws)
    signer = ctx.credentials(ws).signer_if_any()
    new = close_period(ctx.database(ws), month, now, signer, force=force, operator=operator)
    ctx.emit(
        {"period": month, "closed": True, "new": new},
        lambda: f"closed {month}" if new else f"{month} was closed already",
    )


_REOPEN_EXAMPLES = """\b
Example:
  receipts period reopen 2026-10 --reason "补开10月漏开收据"

\b
Refused for a month that is not closed or is archived (correct an archived month with a red
receipt in the running month; its archive adds a supplementary package)."""


@period.command("reopen", epilog=_REOPEN_EXAMPLES)
@click.argument("month")
@click.option("--reason", required=True, help="Why (1-200 characters); recorded in the event.")
@with_context
def period_reopen(ctx: Context, month: str, reason: str) -> None:
    """Reopen a closed, not yet archived month (an event naming the reason and operator)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "reviewer", action="reopening periods")
    operator = _operator_name(ctx, ws)
    signer = ctx.credentials(ws).signer_if_any()
    reopen_period(ctx.database(ws), month, reason, signer, operator=operator)
    ctx.emit(
        {"period": month, "reopened": True, "reason": reason, "operator": operator},
        lambda: f"reopened {month}: {reason}",
    )


@period.command("list", epilog="\b\nExample:\n  receipts period list")
@with_context
def period_list(ctx: Context) -> None:
    """Closed months, and months reopened and not closed again."""
    ws = ctx.workspace()
    db = ctx.database(ws)
    data: list[dict[str, Any]] = [
        {"period": p.period, "status": "closed", "closed_at": p.closed_at, "reopens": p.reopened}
        for p in closed_periods(db)
    ]
    data += [
        {"period": m, "status": "reopened", "closed_at": None, "reopens": None}
        for m in reopened_periods(db)
    ]
    data.sort(key=lambda d: str(d["period"]))
    for entry in data:
        if entry["closed_at"] is not None:
            entry["closed_at"] = f"{entry['closed_at']:%Y-%m-%d %H:%M} UTC"
    rows = [["" if v is None else str(v) for v in entry.values()] for entry in data]
    ctx.emit(
        data,
        lambda: (
            format_table(["period", "status", "closed", "reopens"], rows) if rows else "none closed"
        ),
    )


def _operator_name(ctx: Context, ws: Workspace) -> str | None:
    """The authenticated operator's name; None in a workspace without operators (or before
    operators exist in this build)."""
    find: Any = getattr(ctx, "operator", None)
    if find is None:
        return None
    found = find(ws)
    return None if found is None else str(found.name)
