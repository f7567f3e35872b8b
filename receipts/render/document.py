"""One receipt document: a reportlab canvas, the layout drawn on it, the PDF/A parts, saved.

Saving is where reportlab spends most of a receipt's time (subsetting and compressing the
embedded font, formatting every object), so it is done with a few settings of our own; see
:func:`_fast_writing`.
"""

from __future__ import annotations

import functools
import io
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from receipts.domain.model import Receipt
from receipts.render.fonts import FontFace
from receipts.render.page import Layout
from receipts.render.pdfa import finish_document

__all__ = ["write_receipt"]

# reportlab keeps the settings _fast_writing changes in module globals: one document at a time
# is written with them, so that concurrent threads neither see half of them nor restore them
# out of order.
_WRITING = threading.Lock()


def write_receipt(receipt: Receipt, xml: bytes, layout: Layout, font: str, face: FontFace) -> bytes:
    """The PDF of ``receipt`` drawn with ``layout`` in the registered ``font``, ``xml`` attached."""
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=layout.pagesize,
        initialFontName=font,  # else reportlab refers to an unembedded Helvetica
        initialFontSize=9,
        invariant=1,  # no clock in the output
        pdfVersion=(1, 7),
        lang="zh-CN",
        pageCompression=1,
    )
    layout.draw(canvas, receipt, font, face)
    canvas.showPage()
    finish_document(canvas, receipt, xml, layout.version, layout.title)
    with _fast_writing():
        canvas.save()
    return buffer.getvalue()


@contextmanager
def _fast_writing() -> Iterator[None]:
    """Tune reportlab while it writes a document, and restore it afterwards:

    * the page stream stays binary: reportlab's default ASCII85 layer is pure Python and costs
      ~4 ms a page for nothing PDF/A needs (``rl_config.useA85``);
    * streams are compressed at zlib level 1, twice as fast as reportlab's level 6 for ~3 %
      more bytes (the embedded font subset is most of them); reportlab has no setting for this,
      so its Flate filter's ``encode`` is replaced;
    * its number formatting (pure-Python ``fp_str``, called for every glyph width) is memoised:
      the same numbers recur on every page, and the output is the same function's.
    """
    from reportlab import rl_config
    from reportlab.pdfbase import pdfdoc

    with _WRITING:
        saved_a85, saved_fp_str = rl_config.useA85, pdfdoc.fp_str
        rl_config.useA85 = 0
        pdfdoc.PDFZCompress.encode = _fast_flate
        pdfdoc.fp_str = _memoised(saved_fp_str)
        try:
            yield
        finally:
            rl_config.useA85 = saved_a85
            pdfdoc.fp_str = saved_fp_str
            del pdfdoc.PDFZCompress.encode  # back to the class's method


def _fast_flate(data: str | bytes) -> bytes:
    return zlib.compress(data.encode("utf-8") if isinstance(data, str) else data, 1)


@functools.lru_cache(maxsize=1)
def _memoised(fp_str: Callable[..., str]) -> Callable[..., str]:
    cached = functools.lru_cache(maxsize=4096)(fp_str)

    def memoised(*numbers: object) -> str:
        try:
            return cached(*numbers)
        except TypeError:  # a list of numbers: not hashable, not worth keeping
            return fp_str(*numbers)

    return memoised
