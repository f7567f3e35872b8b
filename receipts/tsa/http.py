"""The time-stamp authority over HTTP (RFC 3161 §3.4): ``POST`` an
``application/timestamp-query``, get an ``application/timestamp-reply``. Mounted at ``/tsa`` on
the federation node of a workspace that has an authority, or served alone by
``receipts tsa serve``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from signing.timestamp_authority import TimeStampAuthority
from signing.timestamps import MAX_QUERY_BYTES, QUERY_TYPE, REPLY_TYPE

__all__ = ["TSA_PATH", "tsa_app", "tsa_router"]

TSA_PATH = "/tsa"


def tsa_router(authority: TimeStampAuthority) -> APIRouter:
    """The one route: a query in, a reply out (a malformed query gets a signed-off rejection
    reply, as RFC 3161 has it; a wrong content type or an oversized body, HTTP 415/413)."""
    router = APIRouter()

    @router.post(
        TSA_PATH,
        response_class=Response,
        responses={200: {"content": {REPLY_TYPE: {}}}},
        summary="RFC 3161 time-stamp",
    )
    async def stamp(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != QUERY_TYPE:
            return Response(f"expected {QUERY_TYPE}\n", 415, media_type="text/plain")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_QUERY_BYTES:
                return Response("the query is too large\n", 413, media_type="text/plain")
        # Signing and the serial log's write block: off the event loop.
        reply = await run_in_threadpool(authority.respond, body)
        return Response(reply, media_type=REPLY_TYPE)

    return router


def tsa_app(authority: TimeStampAuthority) -> FastAPI:
    """An app serving only the authority (``receipts tsa serve``)."""
    app = FastAPI(title="time-stamp authority", docs_url=None, redoc_url=None)
    app.include_router(tsa_router(authority))
    return app
