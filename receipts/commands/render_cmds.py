"""``receipts render`` and ``extract``: the PDF people see and print, and its attached XML."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.domain.identifiers import validate_number, validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import InvalidInput
from receipts.render.batch import render_many
from receipts.render.receipt_pdf import extract_xml, render_pdf
from receipts.render.receipt_pdf import sign_pdf as add_pades_signature
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_PDF_BYTES, MAX_XML_FILE_BYTES, read_bounded

__all__ = ["extract", "render"]

_RENDER_EXAMPLES = """\b
Examples:
  receipts render receipt.xml -o receipt.pdf
  receipts render 64710126 0000000042 -o receipt.pdf        (from the ledger)
  receipts render --out-dir pdfs/ received/*.xml            (many, on all cores)
  receipts render receipt.xml -o receipt.pdf --sign-pdf     (PAdES, shown by PDF readers)"""


@click.command("render", epilog=_RENDER_EXAMPLES)
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sign-pdf", is_flag=True, help="Add a PAdES signature with the signing key.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@with_context
def render(
    ctx: Context,
    sources: tuple[str, ...],
    output: Path | None,
    out_dir: Path | None,
    sign_pdf: bool,
    workers: int,
) -> None:
    """Write the PDF of a receipt (XML file, or CODE NUMBER from the ledger)."""
    font = ctx.workspace().config.font if ctx.has_workspace() else None
    if out_dir is not None:
        if sign_pdf or output is not None:
            raise InvalidInput("--out-dir renders many files; it takes neither -o nor --sign-pdf")
        _render_many(ctx, [Path(s) for s in sources], out_dir, workers, font)
        return
    if output is None:
        raise InvalidInput("give -o FILE.pdf (or --out-dir DIR for many files)")
    pdf = render_pdf(_source_xml(ctx, sources), font_path=font)
    if sign_pdf:
        ctx.require(ctx.workspace(), "clerk", action="signing receipt PDFs")
        signer = ctx.credentials(ctx.workspace()).signer
        pdf = add_pades_signature(pdf, signer.key, signer.certificate, signer.intermediates)
    write_atomic(output, pdf)
    ctx.emit(
        {"pdf": str(output), "bytes": len(pdf), "signed": sign_pdf},
        lambda: f"wrote {output} ({len(pdf):,} bytes)",
    )


@click.command("extract", epilog="\b\nExample:\n  receipts extract receipt.pdf -o receipt.xml")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_context
def extract(ctx: Context, pdf: Path, output: Path) -> None:
    """Write the signed XML attached to a receipt PDF, byte for byte."""
    xml = extract_xml(read_bounded(pdf, MAX_PDF_BYTES, "a receipt PDF"))
    write_atomic(output, xml)
    ctx.emit(
        {"xml": str(output), "bytes": len(xml)}, lambda: f"wrote {output} ({len(xml):,} bytes)"
    )


def _source_xml(ctx: Context, sources: tuple[str, ...]) -> bytes:
    if len(sources) == 2 and not Path(sources[0]).exists():
        # Only this way of naming a receipt reads the ledger; rendering or extracting a file
        # does not, and should not pay for loading SQLAlchemy.
        from receipts.ledger.queries import load_receipt

        ref = ReceiptRef(validate_receipt_code(sources[0]), validate_number(sources[1].zfill(10)))
        ws = ctx.workspace()
        ctx.require(ws, "clerk", action="rendering receipts")
        return load_receipt(ctx.database(ws), ref).xml
    if len(sources) != 1:
        raise InvalidInput("give one XML file, or CODE NUMBER of a receipt in the ledger")
    path = Path(sources[0])
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    return read_bounded(path, MAX_XML_FILE_BYTES, "a receipt")


def _render_many(
    ctx: Context, paths: list[Path], out_dir: Path, workers: int, font: str | None
) -> None:
    failed = 0
    with ctx.progress(None, length=len(paths), label="rendering") as bar:

        def progress(result: object) -> None:
            if bar is not None and hasattr(bar, "update"):
                bar.update(1)

        results = render_many(paths, out_dir, workers=workers, font_path=font, progress=progress)
    for result in results:
        if not result.ok:
            failed += 1
            click.echo(f"error: {result.source}: {result.error}", err=True)
    ctx.emit(
        {"rendered": len(results) - failed, "failed": failed, "out_dir": str(out_dir)},
        lambda: (
            f"rendered {len(results) - failed} PDF(s) into {out_dir}"
            + (f"; {failed} failed" if failed else "")
        ),
    )
    if failed:
        fail_with_findings()
