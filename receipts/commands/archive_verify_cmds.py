"""``receipts archive verify``: anyone holding an archive package checks it offline, against a
trust bundle (docs/security.md says what each check defends against)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from receipts.commands.archive_cmds import ARCHIVES
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.verify_cmds import tolerance_of_command, tolerance_option
from receipts.domain.signed_documents import chain_validator
from receipts.findings import Finding, FindingCode
from receipts.support.sizes import (
    MAX_PACKAGE_FILE_BYTES,
    MAX_PEM_BYTES,
    FileTooLarge,
    read_bounded,
)
from receipts.verify.archive import ArchiveCheck, verify_archive
from signing.trust import ChainValidator, TrustBundle

__all__ = ["archive_verify"]

_VERIFY_EXAMPLE = """\b
Example:
  receipts archive verify 640100-2026-10.zip --trust national-trust.pem"""


@click.command("verify", epilog=_VERIFY_EXAMPLE)
@ARCHIVES
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust bundle (default: the workspace's).",
)
@tolerance_option
@with_context
def archive_verify(
    ctx: Context, archives: tuple[Path, ...], trust: Path | None, tolerance_hours: str | None
) -> None:
    """Fixity of every file, the manifest's signature, every receipt's signature.

    A receipt that carries a signature time-stamp (XAdES-T) has its token verified too.
    """
    tolerance = tolerance_of_command(ctx, tolerance_hours)
    if trust is not None:
        bundle = TrustBundle.from_pem(read_bounded(trust, MAX_PEM_BYTES, "a trust bundle"))
    else:
        bundle = ctx.credentials(ctx.workspace()).trust
    validator = chain_validator(bundle)
    report: list[dict[str, Any]] = []
    for path in archives:
        check = _verify_one(path, validator, tolerance)
        report.append(
            {
                "archive": str(path),
                "ok": check.ok,
                "receipts": check.receipts,
                "timestamped": check.timestamped,
                "kind": check.info.kind if check.info else None,
                "period": check.info.label if check.info else None,
                "retain_until": check.info.retain_until if check.info else None,
                "findings": [{"code": f.code, "message": f.message} for f in check.findings],
            }
        )

    def human() -> str:
        lines = []
        for r in report:
            if r["kind"] is None:
                # Nothing could be read of it: one line, the finding saying why.
                why = "; ".join(f"{f['code']}: {f['message']}" for f in r["findings"])
                lines.append(f"UNREADABLE  {r['archive']}: {why}")
                continue
            head = "OK" if r["ok"] else "PROBLEMS"
            lines.append(
                f"{head}  {r['archive']}: {r['kind']} archive of {r['period']}, "
                f"{r['receipts']} receipt(s) ({r['timestamped']} time-stamped), "
                f"keep until {r['retain_until']}"
            )
            lines.extend(f"  {f['code']}: {f['message']}" for f in r["findings"])
        return "\n".join(lines)

    ctx.emit(report, human)
    if not all(r["ok"] for r in report):
        fail_with_findings()


def _verify_one(path: Path, validator: ChainValidator, tolerance: timedelta) -> ArchiveCheck:
    """One archive's check; a file too large to be an archive is an unreadable archive."""
    try:
        data = read_bounded(path, MAX_PACKAGE_FILE_BYTES, "an archive")
    except FileTooLarge as exc:
        return ArchiveCheck(None, 0, (Finding(FindingCode.ARCHIVE_INVALID, str(exc)),))
    return verify_archive(data, validator, path.name, tolerance=tolerance)
