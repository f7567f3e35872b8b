"""``receipts verify``: what auditors do, offline, with a trust bundle (docs/security.md says what
each check defends against)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.domain.signed_documents import chain_validator
from receipts.errors import InvalidInput
from receipts.findings import Finding, FindingCode
from receipts.support.sizes import MAX_PEM_BYTES, read_bounded
from receipts.verify.many import iter_receipt_files, verify_files
from receipts.verify.receipt import ReceiptVerification, verify_qr_text
from receipts.workspace import WorkspaceKind
from signing.trust import TrustBundle
from signing.xades_t import DEFAULT_TOLERANCE

__all__ = ["tolerance_of_command", "tolerance_option", "verify"]

_VERIFY_EXAMPLES = """\b
Examples:
  receipts verify receipt.pdf --trust national-trust.pem        (an auditor, offline)
  receipts verify ./received/ --trust national-trust.pem        (a folder, recursively)
  receipts verify --qr 'UDR1|64710126|0000000042|…' --trust national-trust.pem
  receipts verify --qr 'https://ghzs.example.cn/q?c=64710126&n=…' --trust national-trust.pem
  receipts verify receipt.xml --online                          (in the issuer's workspace)
  receipts verify stamped.xml --trust national-trust.pem --tolerance-hours 72"""

_Checker = Callable[[ReceiptVerification], ReceiptVerification]

tolerance_option = click.option(
    "--tolerance-hours",
    metavar="HOURS",
    help="How far a claimed signing time may lie before its time-stamp (default: the "
    "workspace's [tsa] tolerance_hours, else 1080 = 45 days).",
)
"""``--tolerance-hours`` of the commands that verify time-stamped receipts."""


@click.command("verify", epilog=_VERIFY_EXAMPLES)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--qr",
    "qr_text",
    help="A scanned QR code to verify on its own: its URL (layout 3) or UDR1| text.",
)
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust bundle (default: the workspace's).",
)
@click.option("--online", is_flag=True, help="Also check the ledger (issuer's workspace).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@tolerance_option
@with_context
def verify(
    ctx: Context,
    paths: tuple[Path, ...],
    qr_text: str | None,
    trust: Path | None,
    online: bool,
    workers: int,
    tolerance_hours: str | None,
) -> None:
    """Verify receipts: XML, PDF (attachment, page and PAdES), or QR text."""
    if not paths and qr_text is None:
        raise InvalidInput("give files or folders to verify, or --qr TEXT")
    tolerance = tolerance_of_command(ctx, tolerance_hours)
    bundle = _bundle(ctx, trust)
    results: list[dict[str, Any]] = []
    invalid = 0
    if qr_text is not None:
        result = verify_qr_text(qr_text, chain_validator(bundle))
        invalid += _report(ctx, result, results)
    files = list(iter_receipt_files(paths))
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InvalidInput(f"no such file or folder: {missing[0]}")
    checker = _online_checker(ctx) if online else None
    font = ctx.workspace().config.font if ctx.has_workspace() else None
    with ctx.progress(
        verify_files(files, bundle, workers=workers, font=font, tolerance=tolerance),
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


def tolerance_of_command(ctx: Context, hours: str | None) -> timedelta:
    """``--tolerance-hours``, else the workspace's ``[tsa] tolerance_hours``, else the default
    (docs/security.md, "Time-stamps")."""
    from receipts.tsa.config import tolerance_of, tsa_settings

    if hours is not None:
        return tolerance_of(hours, "--tolerance-hours")
    if ctx.has_workspace():
        return tsa_settings(ctx.workspace()).tolerance
    return DEFAULT_TOLERANCE


def _bundle(ctx: Context, trust: Path | None) -> TrustBundle:
    if trust is not None:
        return TrustBundle.from_pem(read_bounded(trust, MAX_PEM_BYTES, "a trust bundle"))
    if not ctx.has_workspace():
        raise InvalidInput("give --trust BUNDLE (or run inside a workspace that trusts a root)")
    return ctx.credentials(ctx.workspace()).trust


def _online_checker(ctx: Context) -> _Checker:
    """Check a verified receipt against this federation's ledger: same digest, and status; a
    receipt a red receipt has cancelled is invalid here (finding ``reversed``)."""
    # Only --online reads the ledger: offline verification, the auditor's everyday case, does
    # not load SQLAlchemy.
    from receipts.ledger.queries import load_receipt

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
        if stored.reversed_by is not None:
            # Signature and seal are intact, but the issuer has cancelled it: whoever checks
            # online (to book it, say) must not take it as a receipt that stands.
            red = f"{result.receipt.ref} was reversed by red receipt {stored.reversed_by}"
            finding = Finding(FindingCode.REVERSED, red)
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
