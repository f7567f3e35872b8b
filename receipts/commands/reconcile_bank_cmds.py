"""``receipts reconcile bank``: this federation's receipts matched with the credits of a bank
statement (the rules of the match are in the command's help)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from receipts.commands.reconcile_report import csv_option, finish, json_option, table
from receipts.commands.runtime import Context, with_context
from receipts.findings import FindingCode
from receipts.reconcile.bank import BankReceipt, BankReport
from receipts.reconcile.bank import reconcile_bank as match_statement
from receipts.workspace import WorkspaceKind

__all__ = ["reconcile_bank"]

_BANK_EXAMPLE = "\b\nExample:\n  receipts reconcile bank 2026-10-statement.csv --csv out.csv"
_BANK_HELP = """Match this federation's receipts with the credits of a bank statement.

\b
STATEMENT is CSV with a header row (UTF-8 with or without BOM, or GB 18030, a superset of GBK):
  date           required  2026-10-08, 2026/10/08 or 20261008
  amount         required  credit in yuan (zero or negative rows are debits: skipped)
  payer_name     required  交款人 as the bank shows it (may be empty with payer_account)
  payer_account  optional  the payer's USCC or other ID, when the bank shows it
  reference      optional  附言: naming a receipt (64710126-0000000012) or a batch client
                           reference makes a strong match
  serial         optional  the bank's transaction serial, echoed
A credit matches a normal, unreversed receipt of the same amount within --window-days by payer
or reference; then several receipts of one payer (at most --max-group) adding up to one credit.
More than one equally good answer is reported as ambiguous, never guessed. Reversed receipts
are excluded and listed. Bad rows are reported as FILE:LINE:COLUMN and the rest is matched.

Exit 1 when anything is unmatched, ambiguous or refused; 2 when the file cannot be read."""

_BANK_COLUMNS = ("status", "credit", "date", "amount", "payer", "receipts", "note")


@click.command("bank", help=_BANK_HELP, epilog=_BANK_EXAMPLE)
@click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--window-days", type=click.IntRange(0, 366), default=7, show_default=True)
@click.option("--max-group", type=click.IntRange(1, 10), default=5, show_default=True)
@csv_option
@json_option
@with_context
def reconcile_bank(
    ctx: Context,
    statement: Path,
    window_days: int,
    max_group: int,
    csv_path: Path | None,
    as_json: bool,
) -> None:
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    report = match_statement(
        ctx.database(ws), ws.ledger_owner, ws.config.zone, statement, window_days, max_group
    )
    for problem in report.problems:
        click.echo(str(problem), err=True)
    rows = _bank_rows(report)
    counts = {
        "matched": len(report.matched),
        "unmatched_receipts": len(report.unmatched_receipts),
        "unmatched_credits": len(report.unmatched_credits),
        "ambiguous": len(report.ambiguous),
        "reversed_excluded": len(report.reversed),
        "bad_rows": len(report.problems),
        "debits_skipped": report.debits,
    }

    def human() -> str:
        head = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        return head + ("\n\n" + table(rows, list(_BANK_COLUMNS)) if rows else "")

    data = {**counts, "lines": rows}
    finish(ctx, data, human, rows, _BANK_COLUMNS, csv_path, report.discrepancies)


def _bank_rows(report: BankReport) -> list[dict[str, Any]]:
    def line(
        status: str, credit: Any = None, receipts: Sequence[BankReceipt] = (), note: str = ""
    ) -> dict[str, Any]:
        return {
            "status": status,
            "credit": credit.label if credit else "",
            "date": str(credit.on) if credit else ", ".join(str(r.issued_on) for r in receipts),
            "amount": f"{credit.amount:.2f}"
            if credit
            else ", ".join(f"{r.total:.2f}" for r in receipts),
            "payer": credit.payer_name if credit else ", ".join(r.payer_name for r in receipts),
            "receipts": ", ".join(r.label for r in receipts),
            "note": note,
        }

    rows = [line(FindingCode.BANK_MATCHED, m.credit, m.receipts, m.basis) for m in report.matched]
    rows += [
        line(FindingCode.BANK_AMBIGUOUS, a.credit, [r for o in a.options for r in o], a.why)
        for a in report.ambiguous
    ]
    rows += [
        line(FindingCode.UNMATCHED_CREDIT, c, note=hint) for c, hint in report.unmatched_credits
    ]
    rows += [line(FindingCode.UNMATCHED_RECEIPT, receipts=[r]) for r in report.unmatched_receipts]
    rows += [
        line(FindingCode.REVERSED_EXCLUDED, receipts=[r], note=f"reversed by {r.reversed_by}")
        for r in report.reversed
    ]
    rows += [
        {**line(FindingCode.BAD_ROW), "credit": f"line {p.line}", "note": str(p)}
        for p in report.problems
    ]
    return rows
