"""``receipts deliver``: each receipt this federation issued, sent once to its payer's registered
email through the workspace's ``[smtp]`` server (docs/delivery.md)."""

from __future__ import annotations

from datetime import date, datetime, time

import click

from receipts.commands.arguments import parse_number
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.delivery.config import smtp_config
from receipts.delivery.run import DeliveryReport, DeliveryRequest, deliver
from receipts.domain.identifiers import validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import EnvironmentFailure, InvalidInput
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["deliver_command"]

_EXAMPLES = """\b
Examples:
  export RECEIPTS_SMTP_PASSWORD=…          (the [smtp] username's password)
  receipts deliver                          (every receipt not delivered yet)
  receipts deliver --since 2026-11-01 --limit 500
  receipts deliver --receipt 64710126 0000000042
  receipts deliver --dry-run                (list what would go; send and record nothing)
  receipts deliver --retry-unknown          (send again what a crash left unknown)"""


@click.command("deliver", epilog=_EXAMPLES)
@click.option(
    "--since",
    default=None,
    help="Only receipts issued on or after this day (YYYY-MM-DD, workspace time zone) or "
    "time (ISO 8601 with offset).",
)
@click.option(
    "--receipt",
    "receipt",
    nargs=2,
    default=None,
    metavar="CODE NUMBER",
    help="Only this receipt.",
)
@click.option("--dry-run", is_flag=True, help="List what would be sent; send and record nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@click.option(
    "--retry-unknown",
    is_flag=True,
    help="Send again the deliveries whose outcome a crash left unknown (the payer may then "
    "get one twice, with the same Message-ID).",
)
@click.option("--to", "to", default=None, hidden=True)
@with_context
def deliver_command(
    ctx: Context,
    since: str | None,
    receipt: tuple[str, str] | None,
    dry_run: bool,
    limit: int | None,
    retry_unknown: bool,
    to: str | None,
) -> None:
    """Send each new receipt's PDF (and XML) to its payer's registered email."""
    if to is not None:
        # Hidden, so that a typed address gets this answer rather than "no such option".
        raise InvalidInput(
            "receipts are delivered only to the payer's registered email; change it with "
            "receipts payer update USCC --email ADDRESS"
        )
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="delivering receipts")
    request = DeliveryRequest(
        issuer=ws.ledger_owner,
        since=None if since is None else _since(ws, since),
        ref=None if receipt is None else _ref(*receipt),
        limit=limit,
        dry_run=dry_run,
        retry_unknown=retry_unknown,
        font=ws.config.font,
    )
    config = None if dry_run and not ws.config.smtp else smtp_config(ws)
    db = ctx.database(ws)
    signer = None if dry_run else ctx.credentials(ws).signer_if_any()
    report = deliver(db, config, signer, request)
    ctx.emit(_data(report), lambda: _human(report))
    if report.stopped is not None:
        raise EnvironmentFailure(report.stopped)
    if not report.ok:
        for problem in report.problems:
            click.echo(f"error: {problem}", err=True)
        fail_with_findings()


def _ref(code: str, number: str) -> ReceiptRef:
    return ReceiptRef(validate_receipt_code(code), parse_number(number))


def _since(ws: Workspace, text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), ws.config.zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--since {text!r} is not a day (YYYY-MM-DD) or an ISO time") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"--since {text!r} needs a UTC offset (+08:00) or give a day")
    return moment


def _data(report: DeliveryReport) -> dict[str, object]:
    return {
        "dry_run": report.dry_run,
        "counts": report.counts,
        "deliveries": [
            {
                "receipt": line.receipt,
                "to": line.to,
                "outcome": line.outcome,
                "reply": line.reply,
                "message_id": line.message_id,
            }
            for line in report.lines
        ],
        "problems": list(report.problems),
        "notes": list(report.notes),
        "stopped": report.stopped,
    }


def _human(report: DeliveryReport) -> str:
    parts: list[str] = []
    if report.lines:
        rows = [(line.receipt, line.to, line.outcome, line.reply) for line in report.lines]
        parts.append(format_table(("receipt", "to", "outcome", "server reply"), rows))
    parts.extend(report.notes)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in report.counts.items())
    parts.append(("dry run: " if report.dry_run else "") + (summary or "nothing to deliver"))
    return "\n".join(parts)
