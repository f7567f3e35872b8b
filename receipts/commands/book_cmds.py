"""``receipts book``: what a payer's accountant does with a receipt it received: book it into the
accounts (入账) once, receive a red receipt before its red voucher is made, list the bookings (a
reversed original shows whether its red voucher is booked), undo one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from receipts.booking import RefusedBooking, list_bookings, receive_red, undo_booking
from receipts.booking import book as book_receipt
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.render.receipt_pdf import extract_xml
from receipts.support.sizes import MAX_PDF_BYTES, read_bounded
from receipts.transmission.http_client import lookup_status
from receipts.transmission.node_urls import issuer_urls
from receipts.verify.many import verify_file
from receipts.verify.receipt import ReceiptVerification
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["book"]

_EXAMPLES = """\b
Examples:
  receipts book receipt.pdf --voucher 记-2026-11-0042 --by 王会计
  receipts book red-receipt.pdf --by 王会计     # received; the red voucher comes later
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
        return
    ctx.require(ws, "clerk", action="booking receipts")
    if undo is not None:
        _undo(ctx, ws, db, undo, booked_by or "", reason or "")
    elif file is not None and voucher is None and booked_by is not None:
        _receive(ctx, ws, db, file, booked_by)
    elif file is None or voucher is None or booked_by is None:
        raise InvalidInput("give FILE, --voucher and --by (or --list, or --undo)")
    else:
        _book(ctx, ws, db, file, voucher, booked_by)


def _list(ctx: Context, db: Database) -> None:
    records = list_bookings(db)
    rows = [
        [str(r.ref), r.amount, r.voucher, r.booked_by, f"{r.booked_at:%Y-%m-%d}", r.status]
        for r in records
    ]
    headers = ["receipt", "amount", "voucher", "by", "date", "status"]
    ctx.emit(
        [
            dict(
                zip(headers, row, strict=True),
                reversed_by=str(r.reversed_by) if r.reversed_by else None,
                red_voucher=r.red_voucher,
            )
            for r, row in zip(records, rows, strict=True)
        ],
        lambda: format_table(headers, rows) if rows else "no bookings",
    )


def _receive(ctx: Context, ws: Workspace, db: Database, file: Path, by: str) -> None:
    creds = ctx.credentials(ws)
    verification = verify_file(file, creds.validator, ws.config.font)
    assert ws.config.uscc is not None
    red = receive_red(
        db, verification, _signed_xml(file), ws.config.uscc, by, creds.signer_if_any()
    )
    then = (
        ": book it with --voucher (the red voucher, 冲红凭证)"
        if red.original_booked
        else " (not booked here; it cannot be booked now)"
    )
    ctx.emit(
        {
            "receipt": str(red.ref),
            "reverses": str(red.original),
            "original_booked": red.original_booked,
        },
        lambda: f"received red receipt {red.ref}, which reverses {red.original}{then}",
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
    asked = _ask_issuer(ws, verification)
    record = book_receipt(
        db, verification, xml, ws.config.uscc, voucher, booked_by, creds.signer_if_any()
    )
    data: dict[str, Any] = {"receipt": str(record.ref), "amount": record.amount, "voucher": voucher}
    if asked is not None:
        data["issuer_node"] = asked
    note = f"\nnote: {asked['note']}" if asked is not None and asked.get("note") else ""
    ctx.emit(data, lambda: f"booked {record.ref} ({record.amount}) under voucher {voucher}{note}")


def _ask_issuer(ws: Workspace, verification: ReceiptVerification) -> dict[str, Any] | None:
    """The issuer's node's word on a receipt about to be booked, when its URL is known (the
    payer's ``[issuers]`` table, else the URL the receipt's QR code carries); a reversed receipt
    is refused (nothing is stored), an unreachable node noted (booked offline). None when no
    node is known, or the receipt will be refused anyway (nobody is asked about it)."""
    receipt = verification.receipt
    if not verification.valid or receipt is None or receipt.payer.uscc != ws.config.uscc:
        return None
    url = issuer_urls(ws).get(receipt.issuer.code) or receipt.public_base_url
    if url is None:
        return None
    answer = lookup_status(url, receipt.code, receipt.number, receipt.check_code, receipt.total)
    if answer is None:
        return {
            "url": url,
            "status": "unreachable",
            "note": f"the issuer's node at {url} could not be reached: booked offline, "
            "its status not checked",
        }
    if answer["found"] and answer.get("status") == "reversed":
        raise RefusedBooking(
            f"reversed: receipt {receipt.ref} was reversed by {answer.get('reversed_by')} "
            f"(the issuer's node at {url}); a reversed receipt cannot be booked"
        )
    if not answer["found"]:
        note = f"the issuer's node at {url} does not know {receipt.ref}: booked on its signature"
        return {"url": url, "status": "not-found", "note": note}
    return {"url": url, "status": "issued"}


def _signed_xml(path: Path) -> bytes:
    data = read_bounded(path, MAX_PDF_BYTES, "a receipt")
    return extract_xml(data) if data.lstrip()[:5] == b"%PDF-" else data
