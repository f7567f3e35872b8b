"""Render many signed XML files to PDF, across worker processes.

Each worker loads the font once and renders whole chunks of files, reading the XML and writing
the PDF itself, so only file names cross process boundaries. A file that cannot be rendered is
reported in its result (errors as values) and the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path

from receipts.errors import InvalidInput, ReceiptError
from receipts.support.atomic import write_atomic
from receipts.support.pools import process_pool

__all__ = ["ProgressCallback", "RenderResult", "render_many"]

_CHUNK = 16


@dataclass(frozen=True)
class RenderResult:
    """What became of one input file."""

    source: Path
    """The signed XML file."""
    output: Path | None
    """The PDF written, or None when it could not be rendered."""
    error: str | None = None
    """Why it could not be rendered (one line), or None."""

    @property
    def ok(self) -> bool:
        """Whether the PDF was written."""
        return self.error is None


#: Called in the calling process once per file, as results arrive.
ProgressCallback = Callable[[RenderResult], None]


def render_many(
    paths: Iterable[Path | str],
    out_dir: Path | str,
    *,
    workers: int = 2,
    font_path: Path | str | None = None,
    layout_version: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[RenderResult]:
    """Render each signed XML file in ``paths`` to ``out_dir/<stem>.pdf``; results in input
    order. ``workers`` processes share the work (1 renders in this process)."""
    sources = [Path(p) for p in paths]
    out = Path(out_dir)
    outputs = [out / f"{source.stem}.pdf" for source in sources]
    seen: dict[Path, Path] = {}
    for source, output in zip(sources, outputs, strict=True):
        if output in seen:
            raise InvalidInput(f"{seen[output]} and {source} would both be written to {output}")
        seen[output] = source
    out.mkdir(parents=True, exist_ok=True)
    font = None if font_path is None else str(font_path)
    jobs = [(str(s), str(o)) for s, o in zip(sources, outputs, strict=True)]
    chunks = [jobs[i : i + _CHUNK] for i in range(0, len(jobs), _CHUNK)]
    results: list[RenderResult] = []

    def collect(done: list[tuple[str, str, str | None]]) -> None:
        for source, output, error in done:
            result = RenderResult(Path(source), None if error else Path(output), error)
            results.append(result)
            if progress is not None:
                progress(result)

    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            collect(_render_chunk(chunk, font, layout_version))
    else:
        # The workers import the renderer (reportlab, the font) when they start rendering.
        with process_pool(workers, preload=["receipts.render.receipt_pdf"]) as pool:
            pending: set[Future[list[tuple[str, str, str | None]]]] = {
                pool.submit(_render_chunk, chunk, font, layout_version) for chunk in chunks
            }
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future.result())
    order = {source: index for index, source in enumerate(sources)}
    return sorted(results, key=lambda result: order[result.source])


def _render_chunk(
    jobs: list[tuple[str, str]], font: str | None, layout_version: int | None
) -> list[tuple[str, str, str | None]]:
    from receipts.render.receipt_pdf import LATEST_LAYOUT, render_pdf

    version = LATEST_LAYOUT if layout_version is None else layout_version
    done: list[tuple[str, str, str | None]] = []
    for source, output in jobs:
        try:
            pdf = render_pdf(Path(source).read_bytes(), font_path=font, layout_version=version)
            # A rendered PDF is derived from its signed XML and can be drawn again: atomic,
            # not fsynced (fsync per file cost a batch a sixth of its throughput).
            write_atomic(output, pdf, durable=False)
        except ReceiptError as exc:
            done.append((source, output, f"{source}: {exc}"))
        except OSError as exc:
            done.append((source, output, f"{source}: {exc.strerror or exc}"))
        else:
            done.append((source, output, None))
    return done
