"""Benchmark: XAdES signing and verification, ours against bare signxml, in the same run.

    python -m bench.sign_verify [--n N] [--workers W]     (from the repository root)

Takes the tests' tier PKI (root → provincial CA → city signing certificate) and builds N
receipt-sized documents (~2 KB, Chinese text), then measures

- signs/s: ``signing.xmldsig.sign_enveloped`` against bare ``signxml.xades.XAdESSigner`` on the
  same documents (target: ours ≥ 0.8x);
- verifies/s: ``signing.batch.verify_many`` (worker processes, chain validated once per
  certificate per worker, process start-up included) against bare
  ``XAdESVerifier().verify(data, ca_pem_file=root)`` one document at a time (target: ≥ 2x);
  ours in one process is shown too, to separate the per-document saving from the parallelism.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.xades.xades import XAdESSigner, XAdESVerifier

from receipts.domain.divisions import issuer_may_certify
from receipts.pki.signer import ReceiptSigner
from receipts.support.pools import pool_context
from signing.batch import verify_many
from signing.pem import certificates_to_pem
from signing.result import VerificationResult
from signing.xmldsig import sign_enveloped
from tests.support.tier_pki import tier_pki

SHANGHAI = timezone(timedelta(hours=8))
ITEMS = ["工会经费(2%)", "会员会费", "工会筹备金", "滞纳金", "其他收入"]


def build_document(i: int) -> etree._Element:
    """A generic receipt-like document of about 2 KB with Chinese text."""
    root = etree.fromstring(b'<Doc xmlns="urn:bench"/>')  # default namespace, no prefix

    def add(parent: etree._Element, tag: str, text: str) -> None:
        etree.SubElement(parent, f"{{urn:bench}}{tag}").text = text

    add(root, "Code", "64710125")
    add(root, "Number", f"{i:010d}")
    add(root, "CheckCode", f"{i * 7919 % 36**6:06x}"[:6])
    add(root, "IssueTime", "2025-03-01T10:00:00+08:00")
    issuer = etree.SubElement(root, "{urn:bench}Issuer")
    add(issuer, "Org", "640100")
    add(issuer, "Name", "银川市总工会")
    add(issuer, "Uscc", "81640100MC0000000X")
    payer = etree.SubElement(root, "{urn:bench}Payer")
    add(payer, "Name", f"宁夏某某科技发展有限责任公司第{i}分公司")
    add(payer, "Kind", "enterprise")
    add(payer, "Uscc", "91640100MA76543210")
    total = 0
    items = etree.SubElement(root, "{urn:bench}Items")
    for n, name in enumerate(ITEMS):
        item = etree.SubElement(items, "{urn:bench}Item")
        fen = (i + 1) * 1000 + n * 137
        total += fen
        add(item, "Catalogue", f"10{n}")
        add(item, "Name", name)
        add(item, "Period", "2025-02")
        add(item, "Basis", f"{fen * 50 // 100}.{fen * 50 % 100:02d}")
        add(item, "Amount", f"{fen // 100}.{fen % 100:02d}")
    add(root, "Total", f"{total // 100}.{total % 100:02d}")
    add(root, "Capitals", "壹仟肆佰零玖元伍角整")
    add(root, "Handler", "张三")
    add(root, "Reviewer", "李四")
    add(root, "Remark", "按月缴纳工会经费，请妥善保管本收据。" * 2)
    return root


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Times:
    """The best time of each side over the rounds, in seconds."""

    ours_sign: float
    bare_sign: float
    ours_verify: float
    """``verify_many`` with the requested workers, process start-up included."""
    ours_verify_one_process: float
    bare_verify: float


def bare_signer() -> XAdESSigner:
    return XAdESSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256)


def time_signing(
    docs: Sequence[etree._Element], city: ReceiptSigner, rounds: int
) -> tuple[float, float, list[bytes]]:
    """Best times of ours and bare signxml signing ``docs``; and our signed documents."""
    signing_time = (datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)).astimezone(
        SHANGHAI
    )
    chain = [city.certificate, *city.intermediates]

    def ours() -> list[bytes]:
        return [
            etree.tostring(
                sign_enveloped(d, city.key, city.certificate, city.intermediates, signing_time)
            )
            for d in docs
        ]

    def bare() -> None:
        for d in docs:
            etree.tostring(bare_signer().sign(d, key=city.key, cert=chain))

    # Warm up both (imports, schemas, caches). The machine may be shared: alternate the two
    # sides for a few rounds and keep each side's best time, so noise hits both alike.
    for d in docs[:20]:
        sign_enveloped(d, city.key, city.certificate, city.intermediates, signing_time)
        bare_signer().sign(d, key=city.key, cert=chain)
    signed = ours()
    ours_s = bare_s = float("inf")
    for _ in range(rounds):
        bare_s = min(bare_s, timed(bare))
        ours_s = min(ours_s, timed(ours))
    return ours_s, bare_s, signed


def time_verifying(
    signed: Sequence[bytes], workers: int, rounds: int
) -> tuple[float, float, float, list[VerificationResult]]:
    """Best times of ours (``workers`` processes, then one) and bare signxml verifying
    ``signed``; and our last results."""
    pki = tier_pki()
    n = len(signed)
    results: list[VerificationResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        root_pem = Path(tmp) / "root.pem"
        root_pem.write_bytes(certificates_to_pem([pki.root]))
        bundle_path = Path(tmp) / "trust.pem"
        bundle_path.write_bytes(pki.bundle.to_pem())

        def bare() -> None:
            for data in signed:
                XAdESVerifier().verify(data, ca_pem_file=str(root_pem))

        def ours(processes: int) -> Callable[[], None]:
            def run() -> None:
                context = pool_context(["signing.batch"])
                results[:] = verify_many(
                    signed,
                    bundle_path,
                    ["640100"] * n,
                    issuer_may_certify=issuer_may_certify,
                    workers=processes,
                    context=context,
                )

            return run

        XAdESVerifier().verify(signed[0], ca_pem_file=str(root_pem))
        bare_v = ours_1 = ours_v = float("inf")
        for _ in range(rounds):
            bare_v = min(bare_v, timed(bare))
            ours_1 = min(ours_1, timed(ours(1)))
            ours_v = min(ours_v, timed(ours(workers)))
    return ours_v, ours_1, bare_v, results


def report(times: Times, n: int, size: float, workers: int, rounds: int, load: float) -> None:
    print(
        f"documents: {n}, ~{size:,.0f} bytes unsigned, ECDSA P-256, workers: {workers}, "
        f"best of {rounds} alternating rounds, load average before: {load:.2f}"
    )
    print(f"sign    ours (sign_enveloped)          {rate(n, times.ours_sign):8.0f}/s")
    print(f"sign    bare signxml XAdESSigner       {rate(n, times.bare_sign):8.0f}/s")
    print(
        f"sign    ratio ours/bare                "
        f"{times.bare_sign / times.ours_sign:8.2f}x  (target >= 0.8x)"
    )
    print(f"verify  ours, one process              {rate(n, times.ours_verify_one_process):8.0f}/s")
    print(f"verify  ours (verify_many, batch)      {rate(n, times.ours_verify):8.0f}/s")
    print(f"verify  bare XAdESVerifier + CA file   {rate(n, times.bare_verify):8.0f}/s")
    print(
        f"verify  ratio ours/bare                "
        f"{times.bare_verify / times.ours_verify:8.2f}x  (target >= 2x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="documents (default 1000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, best kept")
    args = parser.parse_args()
    n: int = args.n
    load = os.getloadavg()[0]  # the figures mean little on a busy machine
    city = tier_pki().signers["640100"]
    docs = [build_document(i) for i in range(n)]
    size = sum(len(etree.tostring(d)) for d in docs) / n
    ours_s, bare_s, signed = time_signing(docs, city, args.rounds)
    ours_v, ours_1, bare_v, results = time_verifying(signed, args.workers, args.rounds)
    bad = [r.findings for r in results if not r.valid]
    if len(results) != n or bad:
        raise SystemExit(f"verification failed: {len(bad)} invalid, e.g. {bad[:1]}")
    report(Times(ours_s, bare_s, ours_v, ours_1, bare_v), n, size, args.workers, args.rounds, load)


if __name__ == "__main__":
    main()
