"""``receipts show`` and ``lookup``: one receipt read back from the ledger, in full for the
clerk, or as the public look-up (查验) answers anyone who holds the paper."""

from __future__ import annotations

import sys
from typing import Any

import click

from receipts.commands.arguments import parse_number
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.domain.money import parse_amount
from receipts.ledger.queries import load_receipt
from receipts.lookup import lookup as public_lookup
from receipts.workspace import WorkspaceKind

__all__ = ["lookup", "show"]


@click.command("show", epilog="\b\nExample:\n  receipts show 64710126 0000000042 --xml")
@click.argument("code")
@click.argument("number")
@click.option("--xml", "as_xml", is_flag=True, help="Print the signed XML as stored.")
@with_context
def show(ctx: Context, code: str, number: str, as_xml: bool) -> None:
    """Print a receipt from the ledger, with its status.

    The status is what every tier agrees on (issued, reversed); ``here`` is what is true in this
    ledger only (archived, booked)."""
    ws = ctx.workspace()
    ref = ReceiptRef(validate_receipt_code(code), parse_number(number))
    stored = load_receipt(ctx.database(ws), ref)
    if as_xml:
        sys.stdout.buffer.write(stored.xml)
        return
    r = stored.receipt
    items = [[i.code, i.name, i.period, f"{i.amount:.2f}"] for i in r.items]
    data: dict[str, Any] = {
        "code": r.code,
        "number": r.formatted_number,
        "kind": r.kind.value,
        "status": stored.status,
        "here": stored.here,
        "issued_at": r.issued_at.isoformat(),
        "issuer": r.issuer.code,
        "payer": r.payer.name,
        "total": f"{r.total:.2f}",
        "capitals": r.capitals,
        "check_code": r.check_code,
        "digest": stored.digest,
        "items": [dict(zip(("code", "name", "period", "amount"), i, strict=True)) for i in items],
    }
    if stored.reversed_by is not None:
        data["reversed_by"] = str(stored.reversed_by)
    if r.original is not None:
        data["original"] = str(r.original)
        data["reason"] = r.reason
    lines = [f"{k}: {v}" for k, v in data.items() if k != "items" and v is not None]
    table = format_table(["item", "name", "period", "amount"], items)
    ctx.emit(data, lambda: "\n".join([*lines, "", table]))


@click.command(
    "lookup",
    epilog="\b\nExample:\n  receipts lookup 64710126 0000000042 k3x9q2 --amount 3409.50",
)
@click.argument("code")
@click.argument("number")
@click.argument("check_code")
@click.option("--amount", help="The total printed on the receipt.")
@with_context
def lookup(ctx: Context, code: str, number: str, check_code: str, amount: str | None) -> None:
    """Public look-up (查验): the status, only when every detail matches."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ref = ReceiptRef(validate_receipt_code(code), validate_number(number.zfill(10)))
    value = parse_amount(amount, allow_negative=True) if amount is not None else None
    answer = public_lookup(ctx.database(ws), ref, check_code, value, ws.config.zone)
    data: dict[str, Any] = {"found": answer.found, "message": answer.message}
    if answer.found:
        data |= {
            "status": str(answer.status),
            "total": f"{answer.total:.2f}",
            "issued_on": answer.issued_on,
        }
    ctx.emit(data, lambda: answer.message)
    if not answer.found:
        fail_with_findings()
