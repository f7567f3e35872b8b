"""``receipts payer add | rename | update | list | show | import | export``: the federation's
payer register (docs/operations.md, "The payer register"; CSV layout in docs/formats.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from receipts.commands.payer_arrears_cmds import arrears, collection_rate_cmd
from receipts.commands.payer_csv import read_payers, register_conflicts, write_payers
from receipts.commands.payer_wage_cmds import wages
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.errors import InvalidInput
from receipts.issuing.payer_register import (
    PayerEntry,
    apply_entries,
    list_payers,
    payer_history,
    register_payer,
    rename_payer,
    update_payer,
)
from receipts.workspace import Workspace, WorkspaceKind

__all__ = [
    "payer",
    "payer_add",
    "payer_export",
    "payer_import",
    "payer_list",
    "payer_rename",
    "payer_show",
    "payer_update",
]

#: Who may change the register (docs/security.md, the command → role matrix).
_WRITERS = ("admin", "clerk")


@click.group("payer")
def payer() -> None:
    """The payer register: payers by USCC, their names over time, union and email.

    Declared wage bills, arrears and collection rate: payer wages, payer arrears, payer
    collection-rate (docs/arrears.md)."""


payer.add_command(wages)
payer.add_command(arrears)
payer.add_command(collection_rate_cmd)


def _writable(ctx: Context, action: str) -> Workspace:
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, *_WRITERS, action=action)
    return ws


def _data(entry: PayerEntry) -> dict[str, Any]:
    return {
        "uscc": entry.uscc,
        "name": entry.name,
        "kind": entry.kind.value,
        "union_uscc": entry.union_uscc,
        "email": entry.email,
    }


_ADD_EXAMPLE = """\b
Example:
  receipts payer add --uscc 91640100MA7600001J --name 宁夏贺兰山实业有限公司 \\
      --kind enterprise --union-uscc 81640100MA7600002N --email caiwu@helanshan.example.cn"""


@payer.command("add", epilog=_ADD_EXAMPLE)
@click.option("--uscc", required=True, help="统一社会信用代码 (check character verified).")
@click.option("--name", required=True, help="Current name, 1-100 characters.")
@click.option("--kind", required=True, help="enterprise, institution, grassroots_union, ...")
@click.option("--union-uscc", default=None, help="Its grassroots union's USCC (81…).")
@click.option("--email", default=None, help="Where its receipts are delivered (ASCII address).")
@with_context
def payer_add(
    ctx: Context, uscc: str, name: str, kind: str, union_uscc: str | None, email: str | None
) -> None:
    """Register a payer (refused when its USCC is registered already)."""
    entry = PayerEntry.of(uscc, name, kind, union_uscc, email)
    ws = _writable(ctx, "registering payers")
    register_payer(ctx.database(ws), entry, ctx.credentials(ws).signer_if_any())
    ctx.emit(_data(entry), lambda: f"registered {entry.uscc} {entry.name}")


@payer.command(
    "rename",
    epilog="\b\nExample:\n  receipts payer rename 91640100MA7600001J "
    '--name 宁夏贺兰山实业集团有限公司 --reason "工商变更登记 2026-11-02"',
)
@click.argument("uscc")
@click.option("--name", required=True, help="The new current name.")
@click.option("--reason", required=True, help="Why (1-200 characters); kept in its history.")
@with_context
def payer_rename(ctx: Context, uscc: str, name: str, reason: str) -> None:
    """Give a registered payer a new name; the old one stays in its history."""
    ws = _writable(ctx, "renaming payers")
    previous = rename_payer(
        ctx.database(ws), uscc, name, reason, ctx.credentials(ws).signer_if_any()
    )
    ctx.emit(
        {"uscc": uscc, "name": name, "previous": previous, "reason": reason},
        lambda: f"renamed {uscc}: {previous} → {name}",
    )


@payer.command(
    "update",
    epilog="\b\nExample:\n  receipts payer update 91640100MA7600001J --email ghcw@hls.example.cn",
)
@click.argument("uscc")
@click.option("--email", default=None, help="New delivery email ('' clears it).")
@click.option("--union-uscc", default=None, help="New grassroots union USCC ('' clears it).")
@with_context
def payer_update(ctx: Context, uscc: str, email: str | None, union_uscc: str | None) -> None:
    """Change a registered payer's email or grassroots union."""
    if email is None and union_uscc is None:
        raise InvalidInput("give --email or --union-uscc (or both)")
    changes: dict[str, Any] = {}
    if email is not None:
        changes["email"] = email or None
    if union_uscc is not None:
        changes["union_uscc"] = union_uscc or None
    ws = _writable(ctx, "updating payers")
    update_payer(ctx.database(ws), uscc, ctx.credentials(ws).signer_if_any(), **changes)
    ctx.emit({"uscc": uscc, **changes}, lambda: f"updated {uscc}")


@payer.command(
    "list", epilog="\b\nExamples:\n  receipts payer list\n  receipts payer list --csv payers.csv"
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the register as CSV (as payer export).",
)
@with_context
def payer_list(ctx: Context, csv_path: Path | None) -> None:
    """Every registered payer (``--json``: a list)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    entries = list_payers(ctx.database(ws))
    if csv_path is not None:
        write_payers(csv_path, entries)
    rows = [[e.uscc, e.name, e.kind.value, e.union_uscc or "", e.email or ""] for e in entries]
    headers = ["uscc", "name", "kind", "union", "email"]
    ctx.emit(
        [_data(e) for e in entries],
        lambda: format_table(headers, rows) if rows else "no payers registered",
    )


@payer.command("show", epilog="\b\nExample:\n  receipts payer show 91640100MA7600001J")
@click.argument("uscc")
@with_context
def payer_show(ctx: Context, uscc: str) -> None:
    """A registered payer and every name it had, with the time each took effect."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    entry, names = payer_history(ctx.database(ws), uscc)
    history = [
        {
            "name": n.name,
            "effective_at": f"{n.effective_at:%Y-%m-%d %H:%M:%S} UTC",
            "reason": n.reason,
        }
        for n in names
    ]

    def human() -> str:
        lines = [f"{k}: {v or ''}" for k, v in _data(entry).items()]
        rows = [[h["effective_at"], h["name"], h["reason"] or ""] for h in history]
        return "\n".join(lines) + "\n" + format_table(["from", "name", "reason"], rows)

    ctx.emit({**_data(entry), "names": history}, human)


@payer.command(
    "import",
    epilog="\b\nExamples:\n  receipts payer import payers.csv\n  receipts payer import payers.xlsx",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default=None, help="Text encoding (default: UTF-8, else GB 18030).")
@with_context
def payer_import(ctx: Context, path: Path, encoding: str | None) -> None:
    """Register the file's (CSV or .xlsx) new payers and update known ones' email and union:
    all or nothing."""
    ws = _writable(ctx, "importing payers")
    entries, problems = read_payers(path, encoding)
    db = ctx.database(ws)
    problems += register_conflicts(db, entries, path)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise InvalidInput(f"{len(problems)} problem(s) in {path}; nothing was imported")
    added, updated, same = apply_entries(
        db, [e for _, e in entries], ctx.credentials(ws).signer_if_any()
    )
    ctx.emit(
        {"registered": added, "updated": updated, "unchanged": same},
        lambda: f"registered {added}, updated {updated}, unchanged {same}",
    )


@payer.command(
    "export",
    epilog="\b\nExamples:\n  receipts payer export payers.csv\n  receipts payer export payers.xlsx",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_context
def payer_export(ctx: Context, path: Path) -> None:
    """Write the register as CSV (UTF-8 with BOM; formula-like cells neutralised), or as an
    Excel workbook (sheet 交款人) when FILE ends in .xlsx."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    entries = list_payers(ctx.database(ws))
    write_payers(path, entries)
    ctx.emit(
        {"payers": len(entries), "file": str(path)},
        lambda: f"wrote {len(entries)} payers to {path}",
    )
