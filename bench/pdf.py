"""Benchmark: receipt PDFs per second against a bare reportlab page, and batch throughput.

Run from the repository root::

    python -m bench.pdf [--n 50] [--rounds 15] [--batch 2000] [--workers 2]

1. One core: ``render_pdf`` (parse and check the XML, draw the page with QR code and seal,
   attach the XML, PDF/A metadata) against bare reportlab pages (reportlab's defaults, one
   ``drawString`` per string, the same embedded font), in CPU time, rounds alternating. Two
   baselines: one drawing only the receipt's field values, one drawing all the text the
   receipt page shows (values and labels): the embedded font subset grows with every distinct
   character, and it is most of the work.
2. Many cores: ``render_many`` over ``--batch`` signed XML files in a temporary folder, with
   ``--workers`` processes, end to end (pool start-up, reading, rendering, writing), and how
   many cores the work actually got (CPU time / wall time): on a shared machine, other
   processes take their share.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.model import Item, Organisation, Payer, QRSeal, Receipt
from receipts.domain.xmlcodec import qr_payload, receipt_to_element, serialize
from receipts.render.batch import render_many
from receipts.render.fonts import shipped_font
from receipts.render.layout import LATEST_LAYOUT, LAYOUTS
from receipts.render.receipt_pdf import render_pdf
from signing.certificate_profile import key_id
from signing.certificates import (
    CertificateRole,
    create_csr,
    create_root_ca,
    issue_certificate,
)
from signing.keys import generate_key
from signing.seal import sign_seal
from signing.xmldsig import sign_enveloped


def signed_receipt_xml() -> tuple[Receipt, bytes]:
    """A three-item receipt, sealed and XAdES-signed by a throwaway root → province → city PKI."""
    now = datetime.now(UTC) - timedelta(days=1)
    root_key, prov_key, city_key = generate_key(), generate_key(), generate_key()
    root = create_root_ca(root_key, "中华全国总工会", now=now)
    prov_csr = create_csr(prov_key, "640000", "宁夏回族自治区总工会", CertificateRole.PROVINCIAL_CA)
    prov = issue_certificate(
        root,
        root_key,
        prov_csr,
        CertificateRole.PROVINCIAL_CA,
        requester_upstream="000000",
        now=now,
    )
    city_csr = create_csr(city_key, "640100", "银川市总工会", CertificateRole.SIGNING)
    city = issue_certificate(
        prov, prov_key, city_csr, CertificateRole.SIGNING, requester_upstream="640000", now=now
    )
    issued = datetime(2026, 11, 28, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    receipt = Receipt(
        code="64710126",
        number=1,
        check_code="k3x9q2",
        kind=ReceiptKind.NORMAL,
        issued_at=issued,
        issuer=Organisation("640100", "银川市总工会", Tier.CITY),
        payer=Payer("宁夏龘犇贺兰山实业有限公司", PayerKind.ENTERPRISE, uscc="91640100MA7600001J"),
        items=(
            Item(
                "01",
                "工会经费(拨缴)",
                "2026-10",
                Decimal("2000.00"),
                Decimal("100000.00"),
                Decimal("0.02"),
            ),
            Item("02", "会员会费", "2026-10", Decimal("1409.50")),
            Item("03", "建会筹备金", "2026-09", Decimal("123.45")),
        ),
        handler="张晓梅",
        reviewer="李建国",
        remark="2026年10月工会经费",
    )
    kid = key_id(city)
    receipt = replace(receipt, seal=QRSeal(kid, sign_seal(city_key, qr_payload(receipt, kid))))
    signed = sign_enveloped(receipt_to_element(receipt), city_key, city, [prov], issued)
    return receipt, serialize(signed)


def bare_page(receipt: Receipt, *, labels: bool) -> Callable[[], bytes]:
    """A reportlab page with reportlab's defaults, drawing with the same font the receipt's
    field values (and, with ``labels``, every fixed label too), one ``drawString`` each."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    layout = LAYOUTS[LATEST_LAYOUT]
    # Plain reportlab: its own TTFont object for the same file, none of render_pdf's tuning.
    font = "BareWQY"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(font, str(shipped_font())))
    texts = [layout.title, *(text for _, text in layout.printed(receipt) if text)]
    if labels:  # one string for the font check; drawn here in lines of 24 characters
        fixed = layout.fixed_text
        texts += [fixed[i : i + 24] for i in range(0, len(fixed), 24)]

    def render() -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=layout.pagesize, initialFontName=font, invariant=1)
        canvas.setFont(font, 9)
        for index, text in enumerate(texts):
            canvas.drawString(20 + (index % 3) * 190, 400 - (index // 3) * 14, text)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    return render


def per_second(render: Callable[[], object], n: int) -> float:
    # CPU time of this process: other processes on a shared machine then disturb the
    # comparison much less than they would wall-clock time.
    start = time.process_time()
    for _ in range(n):
        render()
    return n / (time.process_time() - start)


def single_core(xml: bytes, receipt: Receipt, n: int, rounds: int) -> None:
    # The bare pages first: reportlab would map a later font of the same face name to ours.
    runs: dict[str, Callable[[], object]] = {
        "values": bare_page(receipt, labels=False),
        "all text": bare_page(receipt, labels=True),
    }
    runs["render_pdf"] = lambda: render_pdf(xml)
    for warm in runs.values():
        warm()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):  # alternate, so that noise from other processes hits all of them
        for name, run in runs.items():
            rates[name].append(per_second(run, n))
    median = {name: statistics.median(values) for name, values in rates.items()}
    # Ratios per round, then their median: a slow spell on a shared machine hits both sides.
    ratio = {
        name: statistics.median(
            o / b for o, b in zip(rates["render_pdf"], rates[name], strict=True)
        )
        for name in ("values", "all text")
    }
    print(f"single core, {rounds} rounds of {n} pages (median PDFs per CPU-second):")
    print(f"  render_pdf: XML parsed, QR, seal, XML attached, PDF/A    {median['render_pdf']:7.1f}")
    print(f"  bare reportlab page, same font, the field values        {median['values']:7.1f}")
    print(f"  bare reportlab page, same font, all the page's text     {median['all text']:7.1f}")
    print(f"  ratio vs bare page with the values    {ratio['values']:5.2f}x   (target >= 0.70x)")
    print(f"  ratio vs bare page with all the text  {ratio['all text']:5.2f}x")
    print(f"  one PDF: {len(render_pdf(xml)):,} bytes (XML attached: {len(xml):,} bytes)")


def batch(xml: bytes, count: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "xml"
        folder.mkdir()
        paths = []
        for index in range(count):
            path = folder / f"receipt-{index:06d}.xml"
            path.write_bytes(xml)
            paths.append(path)
        for processes in sorted({1, workers}):
            out = Path(tmp) / f"pdf-{processes}"
            subset = paths if processes > 1 else paths[: max(count // 4, 1)]
            before = os.times()
            start = time.perf_counter()
            results = render_many(subset, out, workers=processes)
            elapsed = time.perf_counter() - start
            after = os.times()
            cpu = sum(after[:4]) - sum(before[:4])  # this process and its workers
            failed = sum(not r.ok for r in results)
            print(
                f"  render_many, {processes} worker(s): {len(subset):5d} files in {elapsed:6.2f} s"
                f" = {len(subset) / elapsed:6.1f} PDFs/s, {cpu / elapsed:4.2f} cores busy,"
                f" {cpu / len(subset) * 1000:5.1f} ms CPU a PDF"
                + (f"  ({failed} failed)" if failed else "")
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="pages per timing round")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds (median)")
    parser.add_argument("--batch", type=int, default=2000, help="files for render_many")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    receipt, xml = signed_receipt_xml()
    print(f"CPU cores: {os.cpu_count()}, Python {sys.version.split()[0]}")
    single_core(xml, receipt, args.n, args.rounds)
    print(f"batch throughput ({args.batch} signed XML files, end to end incl. pool start-up):")
    batch(xml, args.batch, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
