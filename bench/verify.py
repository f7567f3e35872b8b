"""Receipt verification throughput, against bare signxml, in the same run.

    python -m bench.verify [--n 2000] [--pdf 200] [--workers 2] [--same-payer]   (from the root)

Baseline: signxml's ``XAdESVerifier().verify(data, ca_pem_file=root)``, one receipt at a time,
in one process. Ours: ``receipts verify`` over a folder of the same receipts
(``receipts.verify.many.verify_files``: worker processes, each validating a certificate chain
once, the receipt parsed, checked, its QR seal verified). Target for XML: >= 2x. PDFs add
extracting the attachment and then either re-rendering the page to compare it byte for byte
(``method="render"``, the fast path) or reading the page by content (``method="content"``,
``receipts.verify.pdf_content``; target >= 150 PDFs/s on 2 cores), both in the same run.
Payers' names and amounts differ from receipt to receipt, so every PDF embeds a font subset of
its own, as in a real folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from signxml.xades.xades import XAdESVerifier

from receipts.domain.signed_documents import chain_validator
from receipts.render.receipt_pdf import render_pdf
from receipts.support.pools import map_chunks, process_pool
from receipts.verify.many import verify_files
from receipts.verify.pdf import Method, verify_pdf
from receipts.verify.receipt import ReceiptVerification
from signing.pem import certificates_to_pem
from signing.trust import ChainValidator, TrustBundle
from tests.support.factories import SHANGHAI, make_receipt
from tests.support.tier_pki import tier_pki

# Places and trades payers' names are drawn from: each PDF then embeds its own font subset, as
# a real folder's receipts do (receipts differing only by number share one subset, and the
# content check's font caches would hit on every PDF but the first few).
_PLACES = (
    "宁夏银川兴庆金凤西夏永宁贺兰灵武吴忠固原中卫"
    "石嘴山大武口惠农平罗青铜峡利通盐池同心泾源彭阳隆德海原"
)
_TRADES = ("实业有限公司", "建材厂", "商贸有限责任公司", "农业合作社", "物流中心", "机械制造厂")


def receipts(n: int, *, same_payer: bool = False) -> list[bytes]:
    """``n`` signed receipts of 640100, issued an hour ago, to payers with names of their own
    and amounts of their own (``same_payer``: one payer and amount, only the number differs)."""
    signer = tier_pki().signers["640100"]
    when = (datetime.now(SHANGHAI) - timedelta(hours=1)).replace(microsecond=0)
    code = f"647101{when.year % 100:02d}"
    base = make_receipt(issued_at=when, code=code)
    rng = random.Random(20261203)
    out = []
    for i in range(n):
        receipt = dataclasses.replace(base, number=i + 1)
        if not same_payer:
            name = "".join(rng.sample(_PLACES, 4)) + rng.choice(_TRADES)
            amount = Decimal(rng.randrange(100, 10_000_000)) / 100
            item = dataclasses.replace(base.items[0], amount=amount, basis=None, rate=None)
            payer = dataclasses.replace(base.payer, name=name)
            receipt = dataclasses.replace(receipt, payer=payer, items=(item, *base.items[1:]))
        out.append(signer.sign_receipt(receipt))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--pdf", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--same-payer",
        action="store_true",
        help="Receipts differing only by number (one font subset: the caches always hit).",
    )
    args = parser.parse_args()
    pki = tier_pki()
    xmls = receipts(args.n, same_payer=args.same_payer)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        root_pem = folder / "root.pem"
        root_pem.write_bytes(certificates_to_pem([pki.root]))
        xml_dir = folder / "xml"
        xml_dir.mkdir()
        paths = []
        for i, data in enumerate(xmls):
            path = xml_dir / f"{i:06d}.xml"
            path.write_bytes(data)
            paths.append(path)
        # Alternating rounds, best of each: the machine's load moves; the ratio should not.
        bare = ours = 0.0
        for _ in range(args.rounds):
            start = time.perf_counter()
            for data in xmls:
                XAdESVerifier().verify(data, ca_pem_file=str(root_pem))
            bare = max(bare, args.n / (time.perf_counter() - start))
            start = time.perf_counter()
            results = list(verify_files(paths, pki.bundle, workers=args.workers))
            ours = max(ours, args.n / (time.perf_counter() - start))
            assert all(r.valid for r in results)
        print(
            f"bare signxml XAdESVerifier (1 process): {bare:8.0f} receipts/s "
            f"(best of {args.rounds})"
        )
        print(
            f"receipts verify, XML ({args.workers} workers): {ours:8.0f} receipts/s  "
            f"ratio {ours / bare:.2f}x (target >= 2x)"
        )
        if args.pdf <= 0:
            return
        pdf_dir = folder / "pdf"
        pdf_dir.mkdir()
        pdfs = []
        for i, data in enumerate(xmls[: args.pdf]):
            path = pdf_dir / f"{i:06d}.pdf"
            path.write_bytes(render_pdf(data))
            pdfs.append(path)
        # Alternating rounds, best of each, as for XML.
        rates: dict[str, float] = {"render": 0.0, "content": 0.0}
        for _ in range(args.rounds):
            for method in rates:
                results, seconds = _verify_pdfs(pdfs, pki.bundle, method, args.workers)  # type: ignore[arg-type]
                rates[method] = max(rates[method], len(pdfs) / seconds)
                assert all(r.valid for r in results), [r.findings for r in results][:1]
        for method, rate in rates.items():
            print(
                f"receipts verify, PDF by {method:7s} ({args.workers} workers): {rate:8.0f} "
                f"PDFs/s  ratio {rate / bare:.2f}x against bare signxml on XML"
                + ("  (target >= 150 PDFs/s)" if method == "content" else "")
            )
        print(f"by content / by re-render: {rates['content'] / rates['render']:.2f}x")


_worker: tuple[ChainValidator, Method] | None = None


def _init(bundle_pem: bytes, method: Method) -> None:
    global _worker
    _worker = (chain_validator(TrustBundle.from_pem(bundle_pem)), method)


def _chunk(paths: list[Path]) -> list[ReceiptVerification]:
    assert _worker is not None
    validator, method = _worker
    return [verify_pdf(p.read_bytes(), validator, str(p), method=method) for p in paths]


def _verify_pdfs(
    paths: list[Path], bundle: TrustBundle, method: Method, workers: int
) -> tuple[list[ReceiptVerification], float]:
    """As ``receipts verify`` runs them (verify_files' pool and chunks), with one method; the
    seconds exclude starting the workers and their first PDF each (fonts loaded once a
    process, either way)."""
    with process_pool(workers, _init, (bundle.to_pem(), method)) as pool:
        list(map_chunks(pool, _chunk, iter(paths[:workers]), 1, workers))
        start = time.perf_counter()
        results = list(map_chunks(pool, _chunk, iter(paths), 16, workers * 3))
        return results, time.perf_counter() - start


if __name__ == "__main__":
    main()
