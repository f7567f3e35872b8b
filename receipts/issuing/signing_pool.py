"""Signing receipts on both cores: worker processes that each hold the loaded key.

The ledger takes a block of numbers inside its write lock, hands the receipts to the pool, and
stores what comes back in the same transaction (NOTES: take a block, sign in workers, insert,
commit). The key reaches the workers through the pool's pipe, in memory only.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.domain.model import Receipt
from receipts.pki.signer import ReceiptSigner

__all__ = ["SigningPool"]

# Below this many receipts a pool costs more than it saves.
_PARALLEL_FROM = 32
_worker_signer: ReceiptSigner | None = None


def _init_worker(key_der: bytes, cert_der: bytes, chain_der: Sequence[bytes]) -> None:
    global _worker_signer
    key = serialization.load_der_private_key(key_der, password=None)
    _worker_signer = ReceiptSigner(
        key,  # type: ignore[arg-type]  # only ECDSA/RSA keys are ever sent
        x509.load_der_x509_certificate(cert_der),
        tuple(x509.load_der_x509_certificate(c) for c in chain_der),
    )


def _sign(receipt: Receipt) -> bytes:
    assert _worker_signer is not None
    return _worker_signer.sign_receipt(receipt)


class SigningPool:
    """Signs batches of receipts in ``workers`` processes (in this one when ``workers`` ≤ 1)."""

    def __init__(self, signer: ReceiptSigner, workers: int = 2) -> None:
        self.signer = signer
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            key_der = self.signer.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(
                    key_der,
                    self.signer.certificate.public_bytes(serialization.Encoding.DER),
                    [c.public_bytes(serialization.Encoding.DER) for c in self.signer.intermediates],
                ),
            )
        return self._pool

    def sign(self, receipts: Sequence[Receipt]) -> Iterator[bytes]:
        """The signed XML of each receipt, in order, as each becomes ready (so the caller can
        store one while the workers sign the next)."""
        if self.workers <= 1 or len(receipts) < _PARALLEL_FROM:
            return (self.signer.sign_receipt(r) for r in receipts)
        chunk = max(1, min(16, len(receipts) // (self.workers * 8)))
        return self._ensure_pool().map(_sign, receipts, chunksize=chunk)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
