"""``receipts book``: what a payer's accountant does with a receipt it received: book it into the
accounts (入账) once, list the bookings, undo one."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.booking import book as book_receipt
from receipts.booking import list_bookings, undo_booking
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.render.receipt_pdf import extract_xml
from receipts.support.sizes import MAX_PDF_BYTES, read_bounded
from receipts.verify.many import verify_file
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["book"]

_EXAMPLES = """\b
Examples:
  receipts book receipt.pdf --voucher 记-2026-11-0042 --by 王会计
  receipts book --list
  receipts book --undo 64710126 0000000042 --by 王会计 --reason 重复入账"""


@click.command("book", epilog=_EXAMPLES)
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--voucher", help="Accounting voucher number (凭证号).")
@click.option("--by", "booked_by", help="Who books it.")
@click.option("--list", "list_only", is_flag=True, help="List this payer's bookings.")
@click.option("--undo", nargs=2, metavar="CODE NUMBER", help="Undo a booking (an event).")
@click.option("--reason", help="Why a booking is undone.")
@with_context
def book(
    ctx: Context,
    file: Path | None,
    voucher: str | None,
    booked_by: str | None,
    list_only: bool,
    undo: tuple[str, str] | None,
    reason: str | None,
) -> None:
    """Book a verified receipt into a payer's accounts (入账), at most once."""
    ws = ctx.workspace().require(WorkspaceKind.PAYER)
    db = ctx.database(ws)
    if list_only:
        _list(ctx, db)
    elif undo is not None:
        _undo(ctx, ws, db, undo, booked_by or "", reason or "")
    elif file is None or voucher is None or booked_by is None:
        raise InvalidInput("give FILE, --voucher and --by (or --list, or --undo)")
    else:
        _book(ctx, ws, db, file, voucher, booked_by)


def _list(ctx: Context, db: Database) -> None:
    rows = [
        [
            str(r.ref),
            r.amount,
            r.voucher,
            r.booked_by,
            f"{r.booked_at:%Y-%m-%d}",
            "undone" if r.undone_at else "booked",
        ]
        for r in list_bookings(db)
    ]
    headers = ["receipt", "amount", "voucher", "by", "date", "status"]
    ctx.emit(
        [dict(zip(headers, r, strict=True)) for r in rows],
        lambda: format_table(headers, rows) if rows else "no bookings",
    )


def _undo(
    ctx: Context, ws: Workspace, db: Database, undo: tuple[str, str], by: str, reason: str
) -> None:
    ref = ReceiptRef(validate_receipt_code(undo[0]), validate_number(undo[1].zfill(10)))
    record = undo_booking(db, ref, by, reason, ctx.credentials(ws).signer_if_any())
    ctx.emit(
        {"receipt": str(ref), "undone": True},
        lambda: f"booking of {ref} (voucher {record.voucher}) undone",
    )


def _book(
    ctx: Context, ws: Workspace, db: Database, file: Path, voucher: str, booked_by: str
) -> None:
    creds = ctx.credentials(ws)
    verification = verify_file(file, creds.validator, ws.config.font)
    xml = _signed_xml(file)
    assert ws.config.uscc is not None
    record = book_receipt(
        db, verification, xml, ws.config.uscc, voucher, booked_by, creds.signer_if_any()
    )
    ctx.emit(
        {"receipt": str(record.ref), "amount": record.amount, "voucher": voucher},
        lambda: f"booked {record.ref} ({record.amount}) under voucher {voucher}",
    )


def _signed_xml(path: Path) -> bytes:
    data = read_bounded(path, MAX_PDF_BYTES, "a receipt")
    return extract_xml(data) if data.lstrip()[:5] == b"%PDF-" else data
