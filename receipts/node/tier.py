"""The tier API (docs/formats.md, "The tier API"): a child pushes its transmission package and
gets the signed acknowledgement back; either side asks for the other's signed reconciliation
summary, both rounds. Never anonymous: every request is signed by the sender's own key and
certificate and checked by :mod:`receipts.node.request_auth` before its body is read.

A push is checked exactly as ``receipts transmit import`` checks a file
(:func:`receipts.transmission.receive.import_package`), after one more check: the package is the
authenticated sender's own. Pushing the same package again imports nothing and answers with the
acknowledgement stored for it the first time, byte for byte, so a client that lost the answer
simply pushes again.

A pushed package is never held in memory (docs/formats.md, "The tier API"): the body streams to a
file of its own under the workspace's ``incoming/`` (mode 0600, in a 0700 folder), hashed and
counted as it comes, and is imported from that file member by member, in a worker thread; the
file is removed however the request ends. A file left by a killed process is removed by the next
push (:func:`_sweep`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from receipts.domain.divisions import upstream_of
from receipts.errors import EnvironmentFailure, ReceiptError
from receipts.node.problems import Problem, error_response
from receipts.node.request_auth import Peer, TierRefused, authenticate
from receipts.node.state import NodeState
from receipts.pki.credentials import Credentials
from receipts.pki.signer import ReceiptSigner
from receipts.reconcile.summary_file import read_request
from receipts.reconcile.tiers import make_summary
from receipts.support.sizes import MAX_XML_FILE_BYTES
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.package_stream import open_package
from receipts.transmission.receive import ImportResult, import_package
from receipts.transmission.stored_ack import stored_acknowledgement
from receipts.tsa.workspace_stamper import import_options
from signing.errors import SigningError

__all__ = ["INCOMING", "tier_router"]

logger = logging.getLogger("receipts.node")

INCOMING = "incoming"
"""The workspace folder that pushed packages stream into while they are checked and imported."""
_PREFIX, _SUFFIX = "push-", ".zip"
_ABANDONED_SECONDS = 60.0
"""A file in ``incoming/`` that nobody holds locked and that has not been written for this long
was left by a process that died (SIGKILL, a crash): the next push removes it."""
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": why}
    for status, why in (
        (401, "Not authenticated: unsigned, badly signed, stale, replayed, untrusted."),
        (403, "Not this node's parent or registered child, or not its own package."),
        (413, "The body is larger than the node accepts."),
        (422, "The content was refused (nothing was imported)."),
        (503, "The node cannot sign answers (its key is not unlocked)."),
    )
}


def _body(media: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": False,
            "content": {media: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def _xml(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/xml": {}}}, **_PROBLEMS}


def tier_router() -> APIRouter:
    """The tier API's routes."""
    router = APIRouter(prefix="/api/v1/tier", tags=["tier"])

    @router.post(
        "/packages",
        response_class=Response,
        responses=_xml("The signed acknowledgement (the same one for a package pushed again)."),
        openapi_extra=_body("application/zip"),
        summary="A child pushes its transmission package (signed request)",
    )
    async def push(request: Request) -> Response:
        try:
            state, peer = await _authenticated(request)
            if peer.relation != "child":
                raise TierRefused(
                    403, "not-a-child", f"{peer.org} is this node's parent: only children push"
                )
            with _incoming_file(state) as (handle, path):
                with _storing():
                    digest = await _stream_body(request, state.config.max_push_bytes, handle.write)
                    handle.flush()
                _check_signed(peer, digest)
                signer = await run_in_threadpool(_signer, request)
                ack, result = await run_in_threadpool(_import, state, signer, peer, path)
        except TierRefused as exc:
            return error_response(request.url.path, exc.status, exc.detail)
        except ClientDisconnect:
            # Nobody reads this answer; the file is already gone (_incoming_file).
            logger.info("a push was cut off by its client")
            return error_response(request.url.path, 400, "the client went away mid-body")
        except SQLAlchemyError:
            logger.exception("the ledger failed during a push")
            return error_response(request.url.path, 503, "the ledger does not answer; try later")
        return Response(
            ack,
            media_type="application/xml",
            headers={
                "Receipts-Package": result.manifest.digest,
                "Receipts-Imported": "new" if result.new else "already",
            },
        )

    @router.post(
        "/summary",
        response_class=Response,
        responses=_xml("The node's signed number-space summary (or its answer to a request)."),
        # The query is read by hand after authentication, not declared to FastAPI, which would
        # validate it (422) before an unauthenticated caller is refused; it is documented here.
        openapi_extra={**_body("application/xml"), "parameters": [_ISSUER_PARAMETER]},
        summary="Reconciliation: the node's signed summary, either round (signed request)",
    )
    async def summary(request: Request) -> Response:
        try:
            state, peer = await _authenticated(request)
            issuer = _issuers(request)
            body = bytearray()  # a reconciliation request: 16 MiB at most, read in memory
            _check_signed(peer, await _stream_body(request, MAX_XML_FILE_BYTES, body.extend))
            data = bytes(body)
            signer = await run_in_threadpool(_signer, request)
            document = await run_in_threadpool(
                _summary, state, signer, peer, tuple(issuer or ()), data
            )
        except TierRefused as exc:
            return error_response(request.url.path, exc.status, exc.detail)
        except SQLAlchemyError:
            logger.exception("the ledger failed during a summary")
            return error_response(request.url.path, 503, "the ledger does not answer; try later")
        return Response(document, media_type="application/xml")

    return router


_ISSUER_PARAMETER: dict[str, Any] = {
    "name": "issuer",
    "in": "query",
    "required": False,
    "description": "An issuer to summarise (repeat for more); or name them in the request body.",
    "schema": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{6}$"}},
    "style": "form",
    "explode": True,
}


def _issuers(request: Request) -> list[str]:
    """The ``issuer`` query values of an authenticated request, each a division code."""
    values = request.query_params.getlist("issuer")
    for value in values:
        if not (len(value) == 6 and value.isascii() and value.isdigit()):
            raise TierRefused(422, "refused", f"issuer {value[:20]!r} is not a 6-digit code")
    return values


async def _authenticated(request: Request) -> tuple[NodeState, Peer]:
    state: NodeState = request.app.state.node
    me = state.workspace.ledger_owner
    peer = await run_in_threadpool(
        lambda: authenticate(
            request.headers,
            request.method,
            request.url.path,
            request.url.query,
            me=me,
            validator=_validator(state),
            db=state.db,
            now=datetime.now(UTC),
        )
    )
    return state, peer


async def _stream_body(request: Request, limit: int, write: Callable[[bytes], object]) -> str:
    """Hand the body to ``write`` as it streams in, refused (413) once it passes ``limit``;
    its SHA-256, hex."""
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TierRefused(413, "too-large", f"the body is larger than {limit:,} bytes")
        digest.update(chunk)
        write(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _storing() -> Iterator[None]:
    """A full disk (or another failure to write the incoming file) answered 503: the node's
    trouble, not the package's; the client retries later."""
    try:
        yield
    except OSError as exc:
        logger.error("a push could not be stored under %s/: %s", INCOMING, exc)
        raise TierRefused(
            503, "unavailable", f"the node cannot store the package now: {exc.strerror}"
        ) from None


def _check_signed(peer: Peer, digest: str) -> None:
    """Refuse (401) a body whose SHA-256 is not the one the request's signature covers."""
    if digest != peer.request.content_sha256:
        raise TierRefused(
            401, "body-not-signed", "the body is not the one the request's signature covers"
        )


@contextlib.contextmanager
def _incoming_file(state: NodeState) -> Iterator[tuple[IO[bytes], Path]]:
    """A new file under the workspace's ``incoming/`` (mode 0600: ``mkstemp``), locked while it
    is in use and removed when the block ends, however it ends (a refusal, an error, a client
    gone, the task cancelled)."""
    folder = state.workspace.home / INCOMING
    folder.mkdir(mode=0o700, exist_ok=True)
    _sweep(folder)
    fd, name = tempfile.mkstemp(prefix=_PREFIX, suffix=_SUFFIX, dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            _lock(handle, blocking=True)
            yield handle, path
    finally:
        path.unlink(missing_ok=True)


def _lock(handle: IO[bytes], *, blocking: bool) -> bool:
    """An exclusive ``flock`` on ``handle`` (held until it is closed, and released by the kernel
    when its process dies); False when another holds it. Where there is no ``flock`` (Windows)
    nothing is locked and nothing swept."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the platforms the node runs on
        return not blocking
    try:
        fcntl.flock(handle, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _sweep(folder: Path) -> None:
    """Remove the files of ``incoming/`` that a killed worker left: not locked by any process
    and not written for :data:`_ABANDONED_SECONDS` (a file just made is locked a moment later)."""
    now = time.time()
    for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            with open(path, "rb") as handle:
                if now - os.fstat(handle.fileno()).st_mtime < _ABANDONED_SECONDS:
                    continue
                if _lock(handle, blocking=False):
                    path.unlink(missing_ok=True)
                    logger.info("removed %s, left by a push that did not finish", path.name)
        except OSError:
            continue  # removed meanwhile by another worker


def _validator(state: NodeState) -> Any:
    """The workspace's trust as of now: reloaded when the bundle file changed (another worker
    merged a CRL a package carried)."""
    creds = state.credentials
    try:
        stamp = creds.bundle_path.stat().st_mtime_ns
    except OSError:
        stamp = None
    if creds.__dict__.get("_tier_bundle_stamp") != stamp:
        creds.__dict__.pop("trust", None)
        creds.__dict__.pop("validator", None)
        creds.__dict__["_tier_bundle_stamp"] = stamp
    return state.validator


def _signer(request: Request) -> ReceiptSigner:
    """The node's signing identity for acknowledgements and summaries, unlocked once per worker
    by its operator's key slot, or by ``RECEIPTS_KEY_PASSPHRASE`` in a workspace without
    operators (docs/operations.md)."""
    cached: ReceiptSigner | None = getattr(request.app.state, "tier_signer", None)
    if cached is not None:
        return cached
    state: NodeState = request.app.state.node
    try:
        signer = state.unlock(Credentials(state.workspace)).signer
    except (ReceiptError, SigningError, OSError, ValueError) as exc:
        raise TierRefused(
            503, "no-signing-key", f"this node cannot sign its answers: {exc}"
        ) from None
    request.app.state.tier_signer = signer
    return signer


def _import(
    state: NodeState, signer: ReceiptSigner, peer: Peer, path: Path
) -> tuple[bytes, ImportResult]:
    """Import the pushed package in the file ``path`` as ``transmit import`` imports a file
    (``[transmission]``'s limits and workers); the acknowledgement stored for it."""
    what = f"the package pushed by {peer.org}"
    validator = _validator(state)
    settings: ImportSettings = state.config.transmission
    try:
        # Its manifest is verified here once more than a file's: a child may push only its own.
        with open_package(path, validator, what, settings) as package:
            sender = package.manifest.sender
        if sender != peer.org:
            raise TierRefused(403, "not-own-package", f"{what} is {sender}'s, not its own")
        # XAdES-T: [tsa]'s tolerance, and this tier's own authority stamps what comes unstamped.
        options = import_options(state.credentials, state.db)
        result = import_package(
            state.db, path, validator, signer, what, settings=settings, **options
        )
        if result.crls:
            state.credentials.add_to_trust(crls=result.crls)
    except EnvironmentFailure as exc:
        raise TierRefused(503, "unavailable", str(exc)) from None
    except (ReceiptError, SigningError) as exc:
        if isinstance(exc, TierRefused):
            raise
        raise TierRefused(422, "refused", str(exc)) from None
    return stored_acknowledgement(state.db, result), result


def _in_scope(peer: Peer, issuer: str) -> bool:
    """A child may see the summary of itself and of the federations under it; the parent of
    every issuer this ledger holds."""
    if peer.relation == "parent":
        return True
    try:
        return issuer == peer.org or upstream_of(issuer) == peer.org
    except ReceiptError:
        return False


def _summary(
    state: NodeState, signer: ReceiptSigner, peer: Peer, issuers: tuple[str, ...], data: bytes
) -> bytes:
    """This ledger's signed summary for ``peer`` (first round), or the answer to its request."""
    try:
        request = data or None
        if request is not None:
            issuers = issuers or read_request(request).scope
        if not issuers:
            raise TierRefused(422, "refused", "name the issuers to summarise (?issuer=CODE)")
        if outside := [i for i in issuers if not _in_scope(peer, i)]:
            raise TierRefused(
                403,
                "outside-scope",
                f"{peer.org} may not ask for the summary of {', '.join(sorted(outside))}",
            )
        return make_summary(state.db, signer, issuers, request).document
    except EnvironmentFailure as exc:
        raise TierRefused(503, "unavailable", str(exc)) from None
    except (ReceiptError, SigningError) as exc:
        if isinstance(exc, TierRefused):
            raise
        raise TierRefused(422, "refused", str(exc)) from None
