"""Signing a batch in worker processes: whichever way the workers start, the key reaches them
and every receipt comes back signed, in order."""

from __future__ import annotations

import pytest

from receipts.issuing.signing_pool import SigningPool
from receipts.support.pools import START_METHOD_ENV
from receipts.verify.receipt import verify_receipt_xml
from tests.support.factories import make_receipt
from tests.support.tier_pki import tier_pki


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_sign_every_receipt_in_order(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    # A worker of the fork server inherits nothing: the key must travel in the initializer's
    # arguments for it to sign at all.
    monkeypatch.setenv(START_METHOD_ENV, method)
    pki = tier_pki()
    receipts = [make_receipt(number=n) for n in range(1, 41)]  # enough to use the workers
    with SigningPool(pki.signers["640100"], workers=2) as pool:
        signed = list(pool.sign(receipts))
        assert pool._pool is not None  # the batch did go to the workers
    results = [verify_receipt_xml(xml, pki.validator()) for xml in signed]
    assert [r.findings for r in results] == [()] * 40
    assert [r.receipt.number for r in results if r.receipt is not None] == list(range(1, 41))
