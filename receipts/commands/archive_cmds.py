"""``receipts period`` and ``archive``: closing months, and keeping them for 30 years."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context, command, fail_with_findings
from receipts.commands.tables import format_table
from receipts.errors import InvalidInput
from receipts.workspace import WorkspaceKind

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Attach ``period close | list`` and ``archive create | verify | restore``."""

    @group.group("period")
    def period() -> None:
        """Closed periods: months in which nothing changes any more."""

    @command(period, "close", epilog="\b\nExample:\n  receipts period close 2026-10")
    @click.argument("month")
    def close_cmd(ctx: Context, month: str) -> None:
        """Close a month of this federation's own issuing (imports are not blocked)."""
        from receipts.issuing.periods import close_period

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        now = datetime.now(ws.config.zone).strftime("%Y-%m")
        new = close_period(ctx.database(ws), month, now, ctx.credentials(ws).signer_if_any())
        ctx.emit(
            {"period": month, "closed": True, "new": new},
            lambda: f"closed {month}" if new else f"{month} was closed already",
        )

    @command(period, "list", epilog="\b\nExample:\n  receipts period list")
    def list_cmd(ctx: Context) -> None:
        """Closed months."""
        from receipts.issuing.periods import closed_periods

        ws = ctx.workspace()
        rows = [
            [p.period, f"{p.closed_at:%Y-%m-%d %H:%M} UTC"]
            for p in closed_periods(ctx.database(ws))
        ]
        ctx.emit(
            [{"period": r[0], "closed_at": r[1]} for r in rows],
            lambda: format_table(["period", "closed"], rows) if rows else "none closed",
        )

    @group.group("archive")
    def archive() -> None:
        """Archive packages of closed periods (归档): create, verify, restore."""

    @command(
        archive,
        "create",
        epilog="""\b
Examples:
  receipts archive create --period 2026-10 -o 640100-2026-10.zip
  receipts archive create --period 2026-Q3 -o 640100-2026-Q3.zip""",
    )
    @click.option("--period", "label", required=True, help="YYYY-MM, YYYY-Qn or YYYY (closed).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    def create_cmd(ctx: Context, label: str, output: Path) -> None:
        """Package a closed period for long-term keeping (30 years)."""
        from receipts.archive.package import create_archives
        from receipts.render.receipt_pdf import render_pdf

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        creds = ctx.credentials(ws)
        if output.exists():
            raise InvalidInput(f"{output} exists; an archive is never overwritten")
        font = ws.config.font
        packages = create_archives(
            ctx.database(ws),
            creds.signer,
            ws.config.name,
            label,
            creds.trust.to_pem(),
            lambda xml: render_pdf(xml, font_path=font),
        )
        written = []
        for package in packages:
            target = (
                output
                if package.kind == "main"
                else output.with_name(f"{output.stem}-supplement{output.suffix}")
            )
            target.write_bytes(package.data)
            written.append(
                {
                    "file": str(target),
                    "kind": package.kind,
                    "receipts": package.receipts,
                    "digest": package.digest,
                }
            )
        ctx.emit(
            written,
            lambda: "\n".join(
                f"wrote {w['file']} ({w['kind']}, {w['receipts']} record(s))" for w in written
            ),
        )

    @command(
        archive,
        "verify",
        epilog="""\b
Example:
  receipts archive verify 640100-2026-10.zip --trust national-trust.pem""",
    )
    @click.argument(
        "archives",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--trust",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Trust bundle (default: the workspace's).",
    )
    def verify_cmd(ctx: Context, archives: tuple[Path, ...], trust: Path | None) -> None:
        """Fixity of every file, the manifest's signature, every receipt's signature."""
        from receipts.verify.archive import verify_archive
        from signing.trust import ChainValidator, TrustBundle

        if trust is not None:
            bundle = TrustBundle.load(trust)
        else:
            bundle = ctx.credentials(ctx.workspace()).trust
        validator = ChainValidator(bundle)
        report: list[dict[str, Any]] = []
        bad = 0
        for path in archives:
            check = verify_archive(path.read_bytes(), validator, path.name)
            bad += not check.ok
            report.append(
                {
                    "archive": str(path),
                    "ok": check.ok,
                    "receipts": check.receipts,
                    "kind": check.info.kind if check.info else None,
                    "period": check.info.label if check.info else None,
                    "retain_until": check.info.retain_until if check.info else None,
                    "findings": [{"code": f.code, "message": f.message} for f in check.findings],
                }
            )

        def human() -> str:
            lines = []
            for r in report:
                head = "OK" if r["ok"] else "PROBLEMS"
                lines.append(
                    f"{head}  {r['archive']}: {r['kind']} archive of {r['period']}, "
                    f"{r['receipts']} receipt(s), keep until {r['retain_until']}"
                )
                lines.extend(f"  {f['code']}: {f['message']}" for f in r["findings"])
            return "\n".join(lines)

        ctx.emit(report, human)
        if bad:
            fail_with_findings()

    @command(
        archive,
        "restore",
        epilog="""\b
Example:
  receipts archive restore 640100-2026-*.zip --into ./restored-640100""",
    )
    @click.argument(
        "archives",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--into",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="A new workspace folder.",
    )
    @click.option(
        "--trust",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Verify with this trust bundle instead of the archived one.",
    )
    def restore_cmd(
        ctx: Context, archives: tuple[Path, ...], into: Path, trust: Path | None
    ) -> None:
        """Rebuild a federation's ledger from its archives (main and supplementary)."""
        from receipts.archive.restore import restore_archives
        from signing.trust import TrustBundle

        bundle = TrustBundle.load(trust) if trust is not None else None
        result = restore_archives(
            [(p.name, p.read_bytes()) for p in archives], into, bundle, ctx.db_url
        )
        ctx.emit(
            {
                "home": str(result.home),
                "org": result.org_code,
                "archives": result.archives,
                "receipts": result.receipts,
            },
            lambda: (
                f"restored {result.receipts} receipt(s) of {result.org_code} from "
                f"{result.archives} archive(s) into {result.home}"
            ),
        )
