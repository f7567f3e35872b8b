"""Verify many signed documents on all cores, validating each certificate chain once per worker.

Each worker process builds one :class:`~signing.trust.ChainValidator` from the trust bundle when it
starts, so a chain is built once per certificate per worker however many documents it signed;
documents travel in chunks, at most a few chunks in flight, so memory stays bounded however long
the input is. Results come back in input order.

How the workers start (fork, forkserver, spawn) is the caller's policy, passed in as a
multiprocessing context: ``receipts`` passes the one of :mod:`receipts.support.pools`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, islice, repeat
from multiprocessing.context import BaseContext

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.result import Finding, SignedDocument, VerificationResult
from signing.trust import ChainValidator, IssuerRule, TrustBundle
from signing.xmldsig import verify_enveloped

__all__ = ["DEFAULT_CHUNK_SIZE", "verify_many"]

#: Documents sent to a worker at a time: large enough to amortise the round trip (~5 KB each).
DEFAULT_CHUNK_SIZE = 32

# What a worker sends back: (valid, findings, signer DER, signing time, signed canonical bytes).
_Packed = tuple[bool, tuple[tuple[str, str], ...], bytes | None, datetime | None, bytes | None]

_worker_validator: ChainValidator | None = None


def _init_worker(bundle_pem: bytes, rule: IssuerRule | None, require_crl: bool) -> None:
    global _worker_validator
    _worker_validator = ChainValidator(
        TrustBundle.from_pem(bundle_pem), issuer_may_certify=rule, require_crl=require_crl
    )


def _verify_chunk(items: list[tuple[bytes, str | None]], now: datetime) -> list[_Packed]:
    validator = _worker_validator
    if validator is None:
        raise RuntimeError("verification worker was not initialised")
    return [
        _pack(verify_enveloped(data, validator, expected_org=org, now=now)) for data, org in items
    ]


def _pack(result: VerificationResult) -> _Packed:
    # lxml elements and cryptography certificates do not pickle; their bytes do.
    return (
        result.valid,
        tuple((f.code, f.message) for f in result.findings),
        None if result.signer is None else result.signer.public_bytes(Encoding.DER),
        result.signing_time,
        None if result.signed is None else result.signed.data,
    )


@lru_cache(maxsize=256)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _unpack(packed: _Packed) -> VerificationResult:
    valid, findings, signer, signing_time, signed = packed
    return VerificationResult(
        valid=valid,
        findings=tuple(Finding(code, message) for code, message in findings),
        signer=None if signer is None else _certificate(signer),
        signing_time=signing_time,
        signed=None if signed is None else SignedDocument(data=signed),
    )


def _load(bundle: TrustBundle | str | os.PathLike[str]) -> TrustBundle:
    return bundle if isinstance(bundle, TrustBundle) else TrustBundle.load(bundle)


def verify_many(
    datas: Iterable[bytes],
    bundle: TrustBundle | str | os.PathLike[str],
    expected_orgs: Iterable[str | None] | None = None,
    *,
    issuer_may_certify: IssuerRule | None,
    workers: int = 2,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    require_crl: bool = False,
    now: datetime | None = None,
    context: BaseContext | None = None,
) -> Iterator[VerificationResult]:
    """Verify each document of ``datas`` like :func:`~signing.xmldsig.verify_enveloped`.

    ``expected_orgs`` runs alongside ``datas`` (one org code or ``None`` per document); leave it
    out to skip the signer-org check. ``bundle`` is a :class:`TrustBundle` or the path of a bundle
    file. With ``workers`` <= 1, or fewer documents than one chunk (where starting processes
    would cost more than it saves), everything runs in this process. ``context`` starts the
    workers (None: multiprocessing's default); with the fork server, preload ``signing.batch``
    in it so that the server, not each worker, imports what verifying needs. Yields results in
    input order. ``issuer_may_certify`` is the org rule of
    :class:`~signing.trust.ChainValidator`; a module-level function, so that workers receive it.
    """
    if isinstance(expected_orgs, str | bytes):
        raise TypeError("expected_orgs is one org code per document, not a single string")
    trust = _load(bundle)
    moment = datetime.now(UTC) if now is None else now
    orgs: Iterable[str | None] = repeat(None) if expected_orgs is None else expected_orgs
    items = zip(datas, orgs, strict=expected_orgs is not None)
    size = max(1, chunk_size)
    head = list(islice(items, size))
    if workers <= 1 or len(head) < size:
        validator = ChainValidator(
            trust, issuer_may_certify=issuer_may_certify, require_crl=require_crl
        )
        for data, org in chain(head, items):
            yield verify_enveloped(data, validator, expected_org=org, now=moment)
        return
    yield from _in_pool(
        chain(head, items),
        trust,
        (issuer_may_certify, require_crl),
        workers,
        size,
        moment,
        context,
    )


def _in_pool(
    items: Iterator[tuple[bytes, str | None]],
    trust: TrustBundle,
    policy: tuple[IssuerRule | None, bool],
    workers: int,
    chunk_size: int,
    moment: datetime,
    context: BaseContext | None,
) -> Iterator[VerificationResult]:
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(trust.to_pem(), *policy),
    )
    pending: deque[Future[list[_Packed]]] = deque()
    try:
        while chunk := list(islice(items, chunk_size)):
            pending.append(executor.submit(_verify_chunk, chunk, moment))
            # Two chunks per worker keep every core busy while bounding what is held in memory.
            while len(pending) >= 2 * workers:
                yield from map(_unpack, pending.popleft().result())
        while pending:
            yield from map(_unpack, pending.popleft().result())
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
