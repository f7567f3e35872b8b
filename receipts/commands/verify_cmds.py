"""``receipts verify``, ``lookup`` and ``book``: what auditors and payers' accountants do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from receipts.commands.runtime import Context, command, fail_with_findings
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.domain.money import parse_amount
from receipts.errors import InvalidInput
from receipts.workspace import WorkspaceKind

if TYPE_CHECKING:
    from receipts.verify.receipt import ReceiptVerification
    from signing.trust import TrustBundle

__all__ = ["register"]

_VERIFY_EXAMPLES = """\b
Examples:
  receipts verify receipt.pdf --trust national-trust.pem        (an auditor, offline)
  receipts verify ./received/ --trust national-trust.pem        (a folder, recursively)
  receipts verify --qr 'UDR1|64710126|0000000042|…' --trust national-trust.pem
  receipts verify receipt.xml --online                          (in the issuer's workspace)"""


def register(group: click.Group) -> None:
    """Attach ``verify``, ``lookup`` and ``book``."""

    @command(group, "verify", epilog=_VERIFY_EXAMPLES)
    @click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
    @click.option("--qr", "qr_text", help="A scanned QR text to verify on its own.")
    @click.option(
        "--trust",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Trust bundle (default: the workspace's).",
    )
    @click.option("--online", is_flag=True, help="Also check the ledger (issuer's workspace).")
    @click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
    def verify_cmd(
        ctx: Context,
        paths: tuple[Path, ...],
        qr_text: str | None,
        trust: Path | None,
        online: bool,
        workers: int,
    ) -> None:
        """Verify receipts: XML, PDF (attachment, page and PAdES), or QR text."""
        from receipts.verify.many import iter_receipt_files, verify_files
        from receipts.verify.receipt import verify_qr_text
        from signing.trust import ChainValidator

        if not paths and qr_text is None:
            raise InvalidInput("give files or folders to verify, or --qr TEXT")
        bundle = _bundle(ctx, trust)
        results: list[dict[str, Any]] = []
        invalid = 0
        if qr_text is not None:
            result = verify_qr_text(qr_text, ChainValidator(bundle))
            invalid += _report(ctx, result, results)
        files = list(iter_receipt_files(paths))
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise InvalidInput(f"no such file or folder: {missing[0]}")
        checker = _online_checker(ctx) if online else None
        font = ctx.workspace().config.font if _has_workspace(ctx) else None
        with ctx.progress(
            verify_files(files, bundle, workers=workers, font=font),
            length=len(files),
            label="verifying",
        ) as bar:
            for result in bar:
                if checker is not None and result.valid:
                    result = checker(result)
                invalid += _report(ctx, result, results)
        if ctx.json:
            ctx.emit(results, lambda: "")
        elif len(results) > 1:
            ctx.echo(f"{len(results) - invalid} valid, {invalid} invalid")
        if invalid:
            fail_with_findings()

    @command(
        group,
        "lookup",
        epilog="\b\nExample:\n  receipts lookup 64710126 0000000042 k3x9q2 --amount 3409.50",
    )
    @click.argument("code")
    @click.argument("number")
    @click.argument("check_code")
    @click.option("--amount", help="The total printed on the receipt.")
    def lookup_cmd(
        ctx: Context, code: str, number: str, check_code: str, amount: str | None
    ) -> None:
        """Public look-up (查验): the status, only when every detail matches."""
        from receipts.lookup import lookup

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        ref = ReceiptRef(validate_receipt_code(code), validate_number(number.zfill(10)))
        value = parse_amount(amount, allow_negative=True) if amount is not None else None
        answer = lookup(ctx.database(ws), ref, check_code, value)
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

    @command(
        group,
        "book",
        epilog="""\b
Examples:
  receipts book receipt.pdf --voucher 记-2026-11-0042 --by 王会计
  receipts book --list
  receipts book --undo 64710126 0000000042 --by 王会计 --reason 重复入账""",
    )
    @click.argument(
        "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option("--voucher", help="Accounting voucher number (凭证号).")
    @click.option("--by", "booked_by", help="Who books it.")
    @click.option("--list", "list_only", is_flag=True, help="List this payer's bookings.")
    @click.option("--undo", nargs=2, metavar="CODE NUMBER", help="Undo a booking (an event).")
    @click.option("--reason", help="Why a booking is undone.")
    def book_cmd(
        ctx: Context,
        file: Path | None,
        voucher: str | None,
        booked_by: str | None,
        list_only: bool,
        undo: tuple[str, str] | None,
        reason: str | None,
    ) -> None:
        """Book a verified receipt into a payer's accounts (入账), at most once."""
        from receipts.booking import book, list_bookings, undo_booking

        ws = ctx.workspace().require(WorkspaceKind.PAYER)
        db = ctx.database(ws)
        if list_only:
            records = list_bookings(db)
            rows = [
                [
                    str(r.ref),
                    r.amount,
                    r.voucher,
                    r.booked_by,
                    f"{r.booked_at:%Y-%m-%d}",
                    "undone" if r.undone_at else "booked",
                ]
                for r in records
            ]
            headers = ["receipt", "amount", "voucher", "by", "date", "status"]
            ctx.emit(
                [dict(zip(headers, r, strict=True)) for r in rows],
                lambda: format_table(headers, rows) if rows else "no bookings",
            )
            return
        if undo is not None:
            ref = ReceiptRef(validate_receipt_code(undo[0]), validate_number(undo[1].zfill(10)))
            record = undo_booking(
                db, ref, booked_by or "", reason or "", ctx.credentials(ws).signer_if_any()
            )
            ctx.emit(
                {"receipt": str(ref), "undone": True},
                lambda: f"booking of {ref} (voucher {record.voucher}) undone",
            )
            return
        if file is None or voucher is None or booked_by is None:
            raise InvalidInput("give FILE, --voucher and --by (or --list, or --undo)")
        from receipts.verify.many import verify_file

        creds = ctx.credentials(ws)
        verification = verify_file(file, creds.validator, ws.config.font)
        xml = _signed_xml(file)
        assert ws.config.uscc is not None
        record = book(
            db, verification, xml, ws.config.uscc, voucher, booked_by, creds.signer_if_any()
        )
        ctx.emit(
            {"receipt": str(record.ref), "amount": record.amount, "voucher": voucher},
            lambda: f"booked {record.ref} ({record.amount}) under voucher {voucher}",
        )


def _has_workspace(ctx: Context) -> bool:
    from receipts.workspace import CONFIG_NAME

    return (ctx.home / CONFIG_NAME).is_file()


def _bundle(ctx: Context, trust: Path | None) -> TrustBundle:
    from signing.trust import TrustBundle

    if trust is not None:
        return TrustBundle.load(trust)
    if not _has_workspace(ctx):
        raise InvalidInput("give --trust BUNDLE (or run inside a workspace that trusts a root)")
    return ctx.credentials(ctx.workspace()).trust


def _signed_xml(path: Path) -> bytes:
    data = path.read_bytes()
    if data.lstrip()[:5] == b"%PDF-":
        from receipts.render.receipt_pdf import extract_xml

        return extract_xml(data)
    return data


def _online_checker(ctx: Context) -> Any:
    """Check a verified receipt against this federation's ledger: same digest, and status."""
    from receipts.findings import Finding, FindingCode
    from receipts.ledger.queries import load_receipt
    from receipts.verify.receipt import ReceiptVerification

    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    db = ctx.database(ws)

    def check(result: ReceiptVerification) -> ReceiptVerification:
        assert result.receipt is not None
        try:
            stored = load_receipt(db, result.receipt.ref)
        except InvalidInput:
            missing = f"{result.receipt.ref} is not in this ledger"
            finding = Finding(FindingCode.NOT_IN_LEDGER, missing)
            return ReceiptVerification(
                result.source, False, (finding,), result.receipt, result.digest
            )
        if stored.digest != result.digest:
            other = f"the ledger holds a different {result.label}"
            finding = Finding(FindingCode.LEDGER_MISMATCH, other)
            return ReceiptVerification(
                result.source, False, (finding,), result.receipt, result.digest
            )
        status = Finding(FindingCode.LEDGER_STATUS, stored.status.value)
        return ReceiptVerification(result.source, True, (status,), result.receipt, result.digest)

    return check


def _report(ctx: Context, result: ReceiptVerification, results: list[dict[str, Any]]) -> int:
    receipt = result.receipt
    entry = {
        "source": result.source,
        "valid": result.valid,
        "receipt": result.label or None,
        "total": f"{receipt.total:.2f}" if receipt else None,
        "digest": result.digest,
        "findings": [{"code": f.code, "message": f.message} for f in result.findings],
    }
    results.append(entry)
    if not ctx.json:
        if result.valid:
            extra = "".join(f" [{f.message}]" for f in result.findings if f.code == "status")
            total = f" {receipt.total:.2f}" if receipt else ""
            ctx.echo(f"VALID    {result.source}  {result.label}{total}{extra}")
        else:
            problems = "; ".join(f"{f.code}: {f.message}" for f in result.findings)
            click.echo(f"INVALID  {result.source}  {result.label}  {problems}".replace("   ", " "))
    return 0 if result.valid else 1
