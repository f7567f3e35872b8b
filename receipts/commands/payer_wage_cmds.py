"""``receipts payer wages import | set | show | export``: declared wage bills (计拨工资总额) per
payer and 所属期 (docs/arrears.md), the base of the arrears reports of
:mod:`receipts.commands.payer_arrears_cmds`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.sheet_rows import is_xlsx, read_sheet_rows, write_sheet
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.domain.money import parse_amount
from receipts.domain.payment_period import parse_payment_period
from receipts.errors import InvalidInput, ReceiptError
from receipts.issuing.payer_wages import (
    WageDeclaration,
    current_declarations,
    declaration_problems,
    declare_wages,
    parse_declared_on,
    wage_history,
)
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["WAGE_COLUMNS", "WAGE_SHEET", "wages"]

#: Who may declare wage bills (as who may change the register: docs/security.md).
_WRITERS = ("admin", "clerk")

WAGE_COLUMNS = ("uscc", "period", "wage", "declared_on", "source", "reason")
"""A wage file's columns (docs/arrears.md); ``reason`` only for a correction."""
_WAGE_REQUIRED = ("uscc", "period", "wage", "declared_on", "source")


@click.group("wages")
def wages() -> None:
    """Declared wage bills (计拨工资总额) per payer and 所属期."""


def _writable(ctx: Context, action: str) -> Workspace:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, *_WRITERS, action=action)
    return ws


def _store(ctx: Context, ws: Workspace, declarations: list[WageDeclaration]) -> dict[str, int]:
    today = datetime.now(ws.config.zone).date()
    declared, corrected, same = declare_wages(
        ctx.database(ws), declarations, ctx.credentials(ws).signer_if_any(), today
    )
    return {"declared": declared, "corrected": corrected, "unchanged": same}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


@wages.command(
    "import",
    epilog="\b\nExample:\n  receipts payer wages import wages-2026Q4.xlsx\n"
    "  (columns: uscc, period, wage, declared_on, source; reason for a correction)",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default=None, help="CSV text encoding (default: UTF-8, else GB 18030).")
@with_context
def wages_import(ctx: Context, path: Path, encoding: str | None) -> None:
    """Record the file's declarations (CSV or .xlsx): all or nothing, every bad row named."""
    ws = _writable(ctx, "declaring wage bills")
    sheet = read_sheet_rows(path, "wage file", _WAGE_REQUIRED, WAGE_COLUMNS, encoding)
    problems = list(sheet.problems)
    found: list[tuple[int, WageDeclaration]] = []
    for line, row in sheet.rows:
        bad = _row_problems(row)
        problems += [f"{path}:{line}: column {c}: {why}" for c, why in bad]
        if not bad:
            found.append((line, WageDeclaration.of(**_fields(row))))
    if not found and not problems:
        problems.append(f"{path}: no declarations in the file")
    if not problems:
        today = datetime.now(ws.config.zone).date()
        with ctx.database(ws).read() as session:
            for n, column, why in declaration_problems(session, [d for _, d in found], today):
                problems.append(f"{path}:{found[n][0]}: column {column}: {why}")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise InvalidInput(f"{len(problems)} problem(s) in {path}; nothing was imported")
    counts = _store(ctx, ws, [d for _, d in found])
    ctx.emit(counts, lambda: _counts(counts))


def _fields(row: dict[str, str | None]) -> dict[str, Any]:
    return {c: row.get(c) for c in WAGE_COLUMNS}


_CHECKS: dict[str, Callable[[str], object]] = {
    "uscc": validate_uscc,
    "period": lambda value: parse_payment_period(value, what="period"),
    "wage": parse_amount,
    "declared_on": parse_declared_on,
    "source": lambda value: check_text(value, "source", maximum=100),
    "reason": lambda value: check_text(value, "reason", maximum=200),
}


def _row_problems(row: dict[str, str | None]) -> list[tuple[str, str]]:
    """Every bad cell of a row, as (column, why): each field checked on its own."""
    out: list[tuple[str, str]] = []
    for column, check in _CHECKS.items():
        value = row.get(column)
        if value is None:
            if column in _WAGE_REQUIRED:
                out.append((column, "required"))
            continue
        try:
            check(value)
        except ReceiptError as error:
            out.append((column, str(error)))
    return out


@wages.command(
    "set",
    epilog="\b\nExamples:\n  receipts payer wages set 91640100MA7600001J 2026-10 1250000.00 "
    "--source 企业申报\n  receipts payer wages set 91640100MA7600001J 2026-10 1300000.00 "
    '--source 企业申报 --reason "更正: 漏报奖金"',
)
@click.argument("uscc")
@click.argument("period")
@click.argument("amount")
@click.option("--source", required=True, help="Where the figure comes from (1-100 characters).")
@click.option(
    "--declared-on", default=None, metavar="YYYY-MM-DD", help="Declaration date (default: today)."
)
@click.option("--reason", default=None, help="Why, when it corrects a declared period.")
@with_context
def wages_set(
    ctx: Context,
    uscc: str,
    period: str,
    amount: str,
    source: str,
    declared_on: str | None,
    reason: str | None,
) -> None:
    """Declare a payer's wage bill for a 所属期, or correct it (with --reason)."""
    ws = _writable(ctx, "declaring wage bills")
    on = declared_on or datetime.now(ws.config.zone).date().isoformat()
    declaration = WageDeclaration.of(uscc, period, amount, on, source, reason)
    counts = _store(ctx, ws, [declaration])
    ctx.emit(counts, lambda: _counts(counts))


@wages.command("show", epilog="\b\nExample:\n  receipts payer wages show 91640100MA7600001J")
@click.argument("uscc")
@with_context
def wages_show(ctx: Context, uscc: str) -> None:
    """Every declaration of a payer, corrections and the ones they superseded included."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    history = wage_history(ctx.database(ws), uscc)
    data = [
        {
            "event": r.event_seq,
            "period": r.period,
            "wage": str(r.wage),
            "declared_on": r.declared_on.isoformat(),
            "source": r.source,
            "supersedes": r.supersedes,
            "reason": r.reason,
            "current": r.current,
        }
        for r in history
    ]
    headers = [
        "event",
        "period",
        "wage",
        "declared_on",
        "source",
        "supersedes",
        "reason",
        "current",
    ]

    def human() -> str:
        if not data:
            return f"no wage bill declared for {uscc}"
        rows = [["" if d[h] is None else d[h] for h in headers] for d in data]
        for row in rows:
            row[-1] = "yes" if row[-1] else "superseded"
        return format_table(headers, rows)

    ctx.emit(data, human)


WAGE_SHEET = "工资总额"
"""The sheet of an exported workbook."""


@wages.command(
    "export",
    epilog="\b\nExamples:\n  receipts payer wages export wages.csv\n"
    "  receipts payer wages export wages.xlsx",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_context
def wages_export(ctx: Context, path: Path) -> None:
    """Write every payer's current declarations in the layout import reads (CSV, or a workbook
    on sheet 工资总额 when FILE ends in .xlsx); imported again, they change nothing."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    with ctx.database(ws).read() as session:
        current = current_declarations(session)
    rows = [
        [r.uscc, r.period, r.wage, r.declared_on.isoformat(), r.source, r.reason] for r in current
    ]
    write_sheet(path, WAGE_COLUMNS, ("wage",), rows, sheet=WAGE_SHEET if is_xlsx(path) else None)
    ctx.emit(
        {"declarations": len(rows), "file": str(path)},
        lambda: f"wrote {len(rows)} declarations to {path}",
    )
