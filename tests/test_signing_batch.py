"""Batch verification across worker processes gives the same answers as one at a time."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from receipts.domain.divisions import issuer_may_certify
from receipts.support.pools import pool_context
from signing.batch import verify_many
from signing.xmldsig import sign_enveloped
from tests.support.pki import SHANGHAI, Pki, sample_document


def _docs(pki: Pki, n: int) -> list[bytes]:
    at = (pki.now - timedelta(days=1)).astimezone(SHANGHAI)
    c = pki.city
    out = []
    for i in range(n):
        doc = sample_document(amount=f"{i}.50")
        out.append(etree.tostring(sign_enveloped(doc, c.key, c.cert, c.intermediates, at)))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_results_in_order_with_findings(tmp_path: Path, pki: Pki, workers: int) -> None:
    docs = _docs(pki, 9)
    docs[3] = docs[3].replace(b">3.50<", b">300.50<")
    docs[5] = docs[5][:100]
    orgs: list[str | None] = ["640100"] * 9
    orgs[7] = "650100"
    bundle_path = tmp_path / "trust.pem"
    bundle_path.write_bytes(pki.bundle.to_pem())
    context = pool_context(["signing.batch"])
    results = list(
        verify_many(
            docs,
            bundle_path,
            orgs,
            issuer_may_certify=issuer_may_certify,
            workers=workers,
            chunk_size=2,
            now=pki.now,
            context=context,
        )
    )
    assert [r.codes for r in results] == [
        (),
        (),
        (),
        ("digest-mismatch",),
        (),
        ("malformed-xml",),
        (),
        ("wrong-signer-org",),
        (),
    ]
    amounts = [
        r.signed_root.findtext("{urn:test}Amount") if r.signed_root is not None else None
        for r in results
    ]
    assert amounts[8] == "8.50" and amounts[3] is None
    assert results[0].signer == pki.city.cert
    assert results[0].signing_time == (pki.now - timedelta(days=1))


def test_orgs_must_run_alongside(pki: Pki) -> None:
    with pytest.raises(TypeError):
        list(verify_many(_docs(pki, 1), pki.bundle, "640100", issuer_may_certify=None, workers=1))
    with pytest.raises(ValueError):
        list(verify_many(_docs(pki, 2), pki.bundle, ["640100"], issuer_may_certify=None, workers=1))


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_start_as_the_caller_says(pki: Pki, method: str) -> None:
    # signing has no start-method policy of its own: the caller's context starts the workers,
    # and a worker of the fork server (which inherits nothing) verifies just as a fork does.
    context = multiprocessing.get_context(method)
    docs = _docs(pki, 3)
    results = verify_many(
        docs,
        pki.bundle,
        issuer_may_certify=issuer_may_certify,
        workers=2,
        chunk_size=1,
        now=pki.now,
        context=context,
    )
    assert [r.valid for r in results] == [True, True, True]
