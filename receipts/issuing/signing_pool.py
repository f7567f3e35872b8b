"""Signing receipts on both cores: worker processes that each hold the loaded key.

The ledger takes a block of numbers inside its write lock, hands the receipts to the pool, and
stores what comes back in the same transaction (take a block, sign in workers, insert, commit).
The workers start by :mod:`receipts.support.pools`' policy, so they may or may not be forks of
this process; the key reaches them as initializer arguments either way, never through a file.
Every worker dies with this process, however it ends (see :mod:`receipts.support.pools`), so no
copy of the key outlives the command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.domain.model import Receipt
from receipts.pki.signer import ReceiptSigner
from receipts.support.pools import process_pool

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
            # The decrypted key goes to the workers as unencrypted DER in the initializer's
            # arguments. A forked worker inherits them in memory; a worker of the fork server
            # receives them pickled over a pipe between our own processes, which never touches
            # disk and which no other user can open. Encrypting the DER with a one-time
            # passphrase would add nothing: the passphrase would travel over the same pipe, and
            # every worker holds the decrypted key in memory anyway, as this process does.
            key_der = self.signer.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self._pool = process_pool(
                self.workers,
                _init_worker,
                (
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
        """Stop the workers; signing not yet started is dropped (an interrupted batch rolls its
        chunk back, so waiting for the rest of it would only delay the exit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
