"""Benchmark: XAdES signing and verification, ours against bare signxml, in the same run.

    python bench/sign_verify.py [--n N] [--workers W]

Builds a throw-away PKI (root → provincial CA → city signing certificate) and N receipt-sized
documents (~2 KB, Chinese text), then measures

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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.xades.xades import XAdESSigner, XAdESVerifier

from signing.batch import verify_many
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.keys import generate_key
from signing.pem import certificates_to_pem
from signing.result import VerificationResult
from signing.trust import TrustBundle
from signing.xmldsig import sign_enveloped

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="documents (default 1000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, best kept")
    args = parser.parse_args()
    n: int = args.n
    load = os.getloadavg()[0]  # the figures mean little on a busy machine

    now = datetime.now(UTC).replace(microsecond=0)
    root_key, prov_key, city_key = generate_key(), generate_key(), generate_key()
    root = create_root_ca(root_key, "中华全国总工会", now=now - timedelta(days=30))
    prov = issue_certificate(
        root,
        root_key,
        create_csr(prov_key, "640000", "宁夏回族自治区总工会", CertificateRole.PROVINCIAL_CA),
        CertificateRole.PROVINCIAL_CA,
        requester_upstream="000000",
        now=now - timedelta(days=30),
    )
    city = issue_certificate(
        prov,
        prov_key,
        create_csr(city_key, "640100", "银川市总工会", CertificateRole.SIGNING),
        CertificateRole.SIGNING,
        requester_upstream="640000",
        now=now - timedelta(days=30),
    )
    signing_time = (now - timedelta(hours=1)).astimezone(SHANGHAI)
    docs = [build_document(i) for i in range(n)]
    size = sum(len(etree.tostring(d)) for d in docs) / n

    def ours_sign() -> list[bytes]:
        return [
            etree.tostring(sign_enveloped(d, city_key, city, [prov], signing_time)) for d in docs
        ]

    def bare_sign() -> list[bytes]:
        return [
            etree.tostring(
                XAdESSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256).sign(
                    d, key=city_key, cert=[city, prov]
                )
            )
            for d in docs
        ]

    # Warm up both (imports, schemas, caches). The machine may be shared: alternate the two
    # sides for a few rounds and keep each side's best time, so noise hits both alike.
    for d in docs[:20]:
        sign_enveloped(d, city_key, city, [prov], signing_time)
        XAdESSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256).sign(
            d, key=city_key, cert=[city, prov]
        )
    signed = ours_sign()
    ours_s = bare_s = ours_v = ours_1 = bare_v = float("inf")
    results: list[VerificationResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        root_pem = Path(tmp) / "root.pem"
        root_pem.write_bytes(certificates_to_pem([root]))
        bundle_path = Path(tmp) / "trust.pem"
        bundle_path.write_bytes(TrustBundle.of([root, prov, city]).to_pem())

        def bare_verify() -> None:
            for data in signed:
                XAdESVerifier().verify(data, ca_pem_file=str(root_pem))

        def ours_verify() -> None:
            results[:] = verify_many(signed, bundle_path, ["640100"] * n, workers=args.workers)

        def ours_verify_one_process() -> None:
            results[:] = verify_many(signed, bundle_path, ["640100"] * n, workers=1)

        XAdESVerifier().verify(signed[0], ca_pem_file=str(root_pem))
        for _ in range(args.rounds):
            bare_s = min(bare_s, timed(bare_sign))
            ours_s = min(ours_s, timed(ours_sign))
            bare_v = min(bare_v, timed(bare_verify))
            ours_1 = min(ours_1, timed(ours_verify_one_process))
            ours_v = min(ours_v, timed(ours_verify))
    bad = [r.findings for r in results if not r.valid]
    if len(results) != n or bad:
        raise SystemExit(f"verification failed: {len(bad)} invalid, e.g. {bad[:1]}")

    print(
        f"documents: {n}, ~{size:,.0f} bytes unsigned, ECDSA P-256, workers: {args.workers}, "
        f"best of {args.rounds} alternating rounds, load average before: {load:.2f}"
    )
    print(f"sign    ours (sign_enveloped)          {rate(n, ours_s):8.0f}/s")
    print(f"sign    bare signxml XAdESSigner       {rate(n, bare_s):8.0f}/s")
    print(f"sign    ratio ours/bare                {bare_s / ours_s:8.2f}x  (target >= 0.8x)")
    print(f"verify  ours, one process              {rate(n, ours_1):8.0f}/s")
    print(f"verify  ours (verify_many, batch)      {rate(n, ours_v):8.0f}/s")
    print(f"verify  bare XAdESVerifier + CA file   {rate(n, bare_v):8.0f}/s")
    print(f"verify  ratio ours/bare                {bare_v / ours_v:8.2f}x  (target >= 2x)")


if __name__ == "__main__":
    main()
