"""``receipts archive create | restore``: a federation packages its closed periods, and a ledger
is rebuilt from them (docs/formats.md describes the package, docs/operations.md its keeping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from receipts.archive.package import ArchivePackage, create_archives
from receipts.archive.restore import restore_archives
from receipts.commands.archive_cmds import ARCHIVES
from receipts.commands.runtime import Context, with_context
from receipts.errors import InvalidInput, WorkspaceError
from receipts.render.receipt_pdf import pdf_signer, render_pdf
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_PACKAGE_FILE_BYTES, MAX_PEM_BYTES, read_bounded
from receipts.workspace import WorkspaceKind
from signing.trust import TrustBundle

__all__ = ["archive_create", "archive_restore"]

_CREATE_EXAMPLES = """\b
Examples:
  receipts archive create --period 2026-10 -o 640100-2026-10.zip
  receipts archive create --period 2026-Q3 -o 640100-2026-Q3.zip"""
_RESTORE_EXAMPLE = """\b
Example:
  receipts archive restore 640100-2026-*.zip --into ./restored-640100 \\
      --trust national-trust.pem"""


@click.command("create", epilog=_CREATE_EXAMPLES)
@click.option("--period", "label", required=True, help="YYYY-MM, YYYY-Qn or YYYY (closed).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_context
def archive_create(ctx: Context, label: str, output: Path) -> None:
    """Package a closed period for long-term keeping (30 years)."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "reviewer", action="archiving periods")
    creds = ctx.credentials(ws)
    if output.exists():
        raise InvalidInput(f"{output} exists; an archive is never overwritten")
    font = ws.config.font
    # Archived PDFs carry a PAdES signature over the whole file, so that pdfsig checks them
    # without this product (the package's README.txt says how).
    pades = pdf_signer(creds.signer.key, creds.signer.certificate, creds.signer.intermediates)
    packages = create_archives(
        ctx.database(ws),
        creds.signer,
        ws.config.name,
        label,
        creds.trust.to_pem(),
        lambda xml: pades.sign(render_pdf(xml, font_path=font)),
    )
    written = [_write_package(package, output) for package in packages]
    ctx.emit(
        written,
        lambda: "\n".join(
            f"wrote {w['file']} ({w['kind']}, {w['receipts']} record(s))" for w in written
        ),
    )


def _write_package(package: ArchivePackage, output: Path) -> dict[str, Any]:
    """Write the main package to ``output``, a supplement beside it; never over a file."""
    target = (
        output
        if package.kind == "main"
        else output.with_name(f"{output.stem}-supplement{output.suffix}")
    )
    try:
        write_atomic(target, package.data, overwrite=False)
    except FileExistsError:
        raise InvalidInput(f"{target} exists; an archive is never overwritten") from None
    return {
        "file": str(target),
        "kind": package.kind,
        "receipts": package.receipts,
        "digest": package.digest,
    }


@click.command("restore", epilog=_RESTORE_EXAMPLE)
@ARCHIVES
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new workspace folder.",
)
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify with this trust bundle (default: the workspace's); never the archived one.",
)
@with_context
def archive_restore(
    ctx: Context, archives: tuple[Path, ...], into: Path, trust: Path | None
) -> None:
    """Rebuild a federation's ledger from its archives (main and supplementary)."""
    if trust is not None:
        bundle = TrustBundle.from_pem(read_bounded(trust, MAX_PEM_BYTES, "a trust bundle"))
    else:
        try:
            workspace = ctx.workspace()
        except WorkspaceError:
            # The bundle an archive carries proves nothing on its own: anyone can write an
            # archive with a root of their own naming itself the national federation.
            raise InvalidInput(
                "archive restore needs a trust bundle you hold: give --trust FILE (the national "
                "federation's, from `pki export-trust`) or run it in a workspace"
            ) from None
        bundle = ctx.credentials(workspace).trust
    files = [(p.name, read_bounded(p, MAX_PACKAGE_FILE_BYTES, "an archive")) for p in archives]
    result = restore_archives(files, into, bundle, ctx.db_url)
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
