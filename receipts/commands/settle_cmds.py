"""``receipts settle``: shares and the settlement between tiers (上解 / 回拨): the sharing table
in force, a month's signed statement, importing a child's, reconciling it, transfers and the
balance still unpaid (docs/settlement.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.money import format_amount, from_fen, to_fen
from receipts.errors import InvalidInput
from receipts.reconcile.bank_statement import read_statement as read_bank_statement
from receipts.settlement.reconcile import Payment, reconcile_statement
from receipts.settlement.rules import (
    adopt_own_table,
    adopt_signed_table,
    sign_table,
    table_from_toml,
)
from receipts.settlement.statement import import_statement, make_statement
from receipts.settlement.transfers import balances, record_transfer
from receipts.support.atomic import write_atomic
from receipts.workspace import WorkspaceKind

__all__ = ["settle"]

_MAX_TABLE_BYTES = 1_000_000

#: The commands' examples (click's \b keeps their lines).
_ADOPT_EXAMPLE = (
    "\b\n"
    "Example:\n"
    "  receipts settle adopt-rules sharing-64.toml      (a province)\n"
    "  receipts settle adopt-rules sharing-64.xml       (a city, the signed file)"
)
_SIGN_EXAMPLE = "\b\nExample:\n  receipts settle sign-rules sharing-64.toml -o sharing-64.xml"
_STATEMENT_EXAMPLE = (
    "\b\nExample:\n  receipts settle statement --period 2026-10 -o settlement-640100-2026-10.xml"
)
_IMPORT_EXAMPLE = "\b\nExample:\n  receipts settle import settlement-640100-2026-10.xml"
_RECONCILE_EXAMPLE = (
    "\b\n"
    "Example:\n"
    "  receipts settle reconcile --period 2026-10 --from 640100 --bank 2026-11-bank.csv"
)
_TRANSFER_EXAMPLE = (
    "\b\n"
    "Example:\n"
    "  receipts settle transfer --to 640000 --period 2026-10 --amount 72.00 --reference YC-2026-10"
)
_BALANCE_EXAMPLE = "\b\nExample:\n  receipts settle balance --period 2026-10"


@click.group("settle")
def settle() -> None:
    """Shares (分成) and settlement between tiers: statements, reconciliation, transfers.

    上解 is what a federation owes upward, 回拨 what it returns to grassroots unions
    (docs/settlement.md)."""


def _yuan(fen: int) -> str:
    return format_amount(from_fen(fen))


@settle.command(
    "adopt-rules",
    epilog=_ADOPT_EXAMPLE,
)
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_context
def settle_adopt_rules(ctx: Context, table: Path) -> None:
    """Adopt a sharing table: a province (or the national federation) its own TOML table
    (docs/sharing.md "The table"); a city-tier federation the signed file its province sent.
    A table that changes the rules of a day receipts were issued on is refused."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="adopting sharing rules")
    data = table.read_bytes()[: _MAX_TABLE_BYTES + 1]
    if len(data) > _MAX_TABLE_BYTES:
        raise InvalidInput(f"{table}: a sharing table is at most {_MAX_TABLE_BYTES:,} bytes")
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    zone = ws.config.zone
    if data.lstrip().startswith(b"<"):
        digest = adopt_signed_table(db, ws.ledger_owner, data, creds.validator, zone, creds.signer)
    else:
        rules = table_from_toml(data)
        digest = adopt_own_table(db, ws.ledger_owner, rules, zone, creds.signer)
    ctx.emit({"adopted": digest}, lambda: f"adopted sharing table {digest[:12]}")


@settle.command(
    "sign-rules",
    epilog=_SIGN_EXAMPLE,
)
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_context
def settle_sign_rules(ctx: Context, table: Path, output: Path) -> None:
    """Sign a TOML sharing table for the federations below this one (they adopt the file)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="signing sharing rules")
    document = sign_table(ctx.credentials(ws).signer, table_from_toml(table.read_bytes()))
    write_atomic(output, document)
    ctx.emit({"written": str(output)}, lambda: f"wrote {output}")


@settle.command(
    "statement",
    epilog=_STATEMENT_EXAMPLE,
)
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@with_context
def settle_statement(ctx: Context, period: str, output: Path | None) -> None:
    """Make and sign this federation's settlement statement of a month (what it owes upward
    and to grassroots unions, with every receipt behind it) for the tier above."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="making settlement statements")
    statement, document = make_statement(ctx.database(ws), ctx.credentials(ws).signer, period)
    target = output or Path(f"settlement-{statement.federation}-{statement.period}.xml")
    write_atomic(target, document, overwrite=True)
    t = statement.totals
    data = {
        "federation": statement.federation,
        "period": statement.period,
        "upstream": statement.upstream,
        "receipts": len(statement.receipts),
        "income": _yuan(t.income),
        "upward": _yuan(t.upward),
        "grassroots": _yuan(t.grassroots),
        "downward": _yuan(t.downward),
        "retained": _yuan(t.retained),
        "written": str(target),
    }
    ctx.emit(
        data,
        lambda: (
            f"{statement.federation} {statement.period}: {len(statement.receipts)} receipts, "
            f"income {data['income']}, upward (上解) {data['upward']} to {statement.upstream}, "
            f"grassroots (回拨) {data['grassroots']}, retained {data['retained']}; "
            f"wrote {target}"
        ),
    )


@settle.command("import", epilog=_IMPORT_EXAMPLE)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_context
def settle_import(ctx: Context, file: Path) -> None:
    """Import a child federation's signed settlement statement."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="importing settlement statements")
    creds = ctx.credentials(ws)
    statement, new = import_statement(
        ctx.database(ws), file.read_bytes(), creds.validator, creds.signer
    )
    ctx.emit(
        {"federation": statement.federation, "period": statement.period, "new": new},
        lambda: (
            f"{'imported' if new else 'already had'} the statement of "
            f"{statement.federation} for {statement.period}"
        ),
    )


@settle.command(
    "reconcile",
    epilog=_RECONCILE_EXAMPLE,
)
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--from", "child", required=True, help="The child federation's code.")
@click.option(
    "--bank",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The bank statement (CSV, as for `reconcile bank`) of the credits received.",
)
@with_context
def settle_reconcile(ctx: Context, period: str, child: str, bank: Path | None) -> None:
    """Reconcile a child's imported statement against this ledger's copy of its receipts
    (shares recomputed here) and the bank credits received; every difference named. Exit 1
    when anything differs."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    payments = None
    if bank is not None:
        bank_statement = read_bank_statement(bank)
        for problem in bank_statement.problems:
            click.echo(str(problem), err=True)
        payments = [
            Payment(c.on, to_fen(c.amount), c.reference, c.label) for c in bank_statement.credits
        ]
    report = reconcile_statement(
        ctx.database(ws),
        ws.ledger_owner,
        child,
        period,
        ctx.credentials(ws).validator,
        payments,
    )
    data: dict[str, Any] = {
        "federation": report.federation,
        "period": report.period,
        "stated_upward": _yuan(report.stated_upward),
        "recomputed_upward": _yuan(report.recomputed_upward),
        "credited": None if report.credited is None else _yuan(report.credited),
        "differences": [
            {"kind": d.kind.value, "subject": d.subject, "detail": d.detail}
            for d in report.differences
        ],
    }

    def human() -> str:
        credited = "not checked (no --bank)" if report.credited is None else data["credited"]
        head = (
            f"{report.federation} {report.period}: upward stated {data['stated_upward']}, "
            f"recomputed {data['recomputed_upward']}, credited {credited}"
        )
        lines = [str(d) for d in report.differences] or ["no differences"]
        return "\n".join([head, *lines])

    ctx.emit(data, human)
    if not report.ok:
        fail_with_findings()


@settle.command(
    "transfer",
    epilog=_TRANSFER_EXAMPLE,
)
@click.option("--to", "payee", required=True, help="The upstream's code, or 'grassroots'.")
@click.option("--period", required=True, help="The month settled, YYYY-MM.")
@click.option("--amount", required=True, help="Yuan, two decimals.")
@click.option("--reference", required=True, help="The transfer's reference (put in its 附言).")
@click.option("--on", "paid_on", help="The day it was paid (default: today).")
@with_context
def settle_transfer(
    ctx: Context, payee: str, period: str, amount: str, reference: str, paid_on: str | None
) -> None:
    """Record a transfer made for a month's settlement."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="recording settlement transfers")
    try:
        day = date.fromisoformat(paid_on) if paid_on else date.today()
    except ValueError:
        raise InvalidInput(f"--on {paid_on!r} must be a date YYYY-MM-DD") from None
    signer = ctx.credentials(ws).signer_if_any()
    record_transfer(
        ctx.database(ws), ws.ledger_owner, payee, period, amount, day, reference, signer
    )
    ctx.emit(
        {"payee": payee, "period": period, "amount": amount, "reference": reference},
        lambda: f"recorded {amount} to {payee} for {period} ({reference})",
    )


@settle.command("balance", epilog=_BALANCE_EXAMPLE)
@click.option("--period", help="One month, YYYY-MM (default: every month).")
@with_context
def settle_balance(ctx: Context, period: str | None) -> None:
    """What this federation owes per month (its receipts' and tax records' shares), paid and
    unpaid."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    rows = [
        {
            "period": b.period,
            "payee": b.payee,
            "owed": _yuan(b.owed),
            "paid": _yuan(b.paid),
            "unpaid": _yuan(b.unpaid),
        }
        for b in balances(ctx.database(ws), ws.ledger_owner, period)
    ]
    columns = ["period", "payee", "owed", "paid", "unpaid"]
    table = [[r[c] for c in columns] for r in rows]
    ctx.emit(rows, lambda: format_table(columns, table) if rows else "nothing owed")
