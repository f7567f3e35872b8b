"""The public JSON API (no login): ``GET /api/v1/lookup``, ``POST /api/v1/verify`` and
``POST /api/v1/receipt.pdf`` (docs/architecture.md, "The federation node"; the fields are a
contract: a payer's booking asks the issuer's node through ``/api/v1/lookup``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from receipts.errors import InvalidInput
from receipts.node.documents import UploadReport, receipt_pdf, verify_upload
from receipts.node.guards import RateLimited, admit, charge_failed_lookup, client_of, node_of
from receipts.node.lookups import PublicReceipt, parse_details, public_lookup
from receipts.node.problems import Problem, error_response
from receipts.node.state import NodeState

__all__ = [
    "LOOKUP_PATH",
    "LookupResult",
    "VerifyResult",
    "api_router",
    "lookup_endpoint",
    "lookup_result",
    "pdf_response",
]


def _problem(description: str) -> dict[str, object]:
    """An error response as the node sends it: a JSON problem (``application/problem+json``)."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        "model": Problem,
        "description": description,
        "content": {"application/problem+json": {"schema": schema}},
    }


_ERRORS: dict[int | str, dict[str, object]] = {
    413: _problem("The request body is larger than the route accepts."),
    422: _problem("A detail is missing or malformed."),
    429: _problem("Too many requests from this address (see Retry-After)."),
    500: _problem("The node failed to answer."),
}
_BODY_ERRORS: dict[int | str, dict[str, object]] = {
    400: _problem("The body cannot be parsed (a broken multipart or form body)."),
    **_ERRORS,
}


class LookupResult(BaseModel):
    """A look-up's answer: every field null unless ``found`` (a wrong check code and a missing
    receipt give the same body, byte for byte)."""

    found: bool = Field(description="Code, number, check code (and amount) all matched.")
    status: Literal["issued", "reversed"] | None = Field(
        description="issued, or reversed by the red receipt in reversed_by."
    )
    reversed_by: str | None = Field(description="CODE-NUMBER of the red receipt (冲红).")
    issuer: str | None = Field(description="The issuer's org code.")
    issuer_name: str | None = Field(description="The issuer's name.")
    issued_on: date | None = Field(description="The issue date (China time).")
    amount: str | None = Field(
        description="The total, two decimals.", pattern=r"^-?[0-9]+\.[0-9]{2}$"
    )
    payer: str | None = Field(description="The payer's name, partly masked (docs/security.md).")


class FindingResult(BaseModel):
    """One finding of a verification (docs/finding-codes.md)."""

    code: str = Field(description="The finding's stable code.")
    message: str = Field(description="What was found, in one sentence.")


class VerifyResult(BaseModel):
    """What an uploaded receipt verified to: the findings ``receipts verify`` reports."""

    valid: bool = Field(description="Nothing was found against it.")
    receipt: str | None = Field(description="CODE-NUMBER, when the receipt could be read.")
    issuer: str | None = Field(description="The issuer's org code, when it could be read.")
    amount: str | None = Field(description="The total, when it could be read.")
    findings: list[FindingResult] = Field(description="Every problem found.")
    ledger: LookupResult | None = Field(
        description="For a valid receipt, what this node's ledger says of it (not found: it "
        "is not in this ledger)."
    )


def verify_result(report: UploadReport) -> VerifyResult:
    """The API's view of an upload's verification."""
    result, receipt = report.verification, report.verification.receipt
    return VerifyResult(
        valid=result.valid,
        receipt=result.label or None,
        issuer=receipt.issuer.code if receipt is not None else None,
        amount=f"{receipt.total:.2f}" if receipt is not None else None,
        findings=[FindingResult(code=str(f.code), message=f.message) for f in result.findings],
        ledger=lookup_result(report.here) if report.here is not None else None,
    )


def pdf_response(answer: PublicReceipt, pdf: bytes) -> Response:
    """A receipt's PDF as a download (never cached)."""
    name = f"{answer.ref}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def lookup_result(answer: PublicReceipt) -> LookupResult:
    """The API's view of an answer."""
    return LookupResult(
        found=answer.found,
        status=answer.status.value if answer.status is not None else None,
        reversed_by=str(answer.reversed_by) if answer.reversed_by is not None else None,
        issuer=answer.issuer,
        issuer_name=answer.issuer_name,
        issued_on=answer.issued_on,
        amount=f"{answer.amount:.2f}" if answer.amount is not None else None,
        payer=answer.payer,
    )


_LOOKUP_THREADS = ThreadPoolExecutor(2, thread_name_prefix="lookup")
"""Look-ups read the ledger in these two threads per worker process (the event loop never
waits on the database). Two: each holds the GIL for most of its time, so more threads only
queue behind it and slow the event loop's other requests (bench/serve.py: 2 threads 1.7 ms a
request in-process, the default 40 threads 2.9 ms). A plain executor rather than
``anyio.to_thread`` (its capacity limiter, cancel scope and thread hand-over): the same look-ups
cost about 0.3 ms less CPU each through the executor (in-process ASGI, 50 at a time)."""


LOOKUP_PATH = "/api/v1/lookup"
"""The public look-up's path; ``GET`` on it is answered by :func:`lookup_endpoint`."""
_LOOKUP_LIMITS = {"code": 20, "number": 20, "check": 20, "amount": 30}
"""Each query parameter's longest value, as the route's OpenAPI description declares."""
_REQUIRED = ("code", "number", "check")


async def _look_up(
    state: NodeState, client: str, code: str, number: str, check: str, amount: str | None
) -> LookupResult:
    """The look-up after its parameters are present and short enough: the client's token,
    the typed details checked, one hop to a look-up thread for the ledger read (the rest runs
    on the event loop), the failed look-up's extra cost."""
    admission = state.limiter.take(client, 1)
    if not admission.allowed:
        raise RateLimited(admission.retry_after)
    details = parse_details(code, number, check, amount)
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(_LOOKUP_THREADS, public_lookup, state, details)
    if not answer.found:
        state.limiter.charge(client, state.config.rate.failed_lookup_cost - 1)
    return lookup_result(answer)


async def lookup_endpoint(state: NodeState, scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /api/v1/lookup`` as plain ASGI, the node's busiest request: the same checks in the
    same order, the same bytes and headers as the FastAPI route in :func:`api_router` (which
    stays for the OpenAPI description; ``tests/test_node_lookup_fast.py`` holds the two against
    each other), without FastAPI's routing, dependency solving, request validation and response
    model, which cost more than the look-up itself (bench/serve.py). Runs inside
    :class:`receipts.node.middleware.NodeMiddleware` (headers, access log, errors)."""
    path: str = scope["path"]
    params = QueryParams(scope["query_string"])
    values = {name: params.get(name) for name in _LOOKUP_LIMITS}
    invalid = sorted(
        f"query.{name}"
        for name, value in values.items()
        if (value is None and name in _REQUIRED)
        or (value is not None and len(value) > _LOOKUP_LIMITS[name])
    )
    client = scope.get("state", {}).get("client", "unknown")
    try:
        if invalid:
            raise _Invalid("invalid request: " + ", ".join(invalid))
        code, number, check = (str(values[name]) for name in _REQUIRED)
        result = await _look_up(state, client, code, number, check, values["amount"])
    except RateLimited as exc:
        response = error_response(path, 429, str(exc.detail), dict(exc.headers or {}))
    except _Invalid as exc:
        response = error_response(path, 422, str(exc))
    except InvalidInput as exc:
        response = error_response(path, 422, str(exc))
    else:
        body = result.model_dump_json().encode()
        response = Response(body, media_type="application/json")
    await response(scope, receive, send)


class _Invalid(Exception):
    """A parameter missing or too long (FastAPI's request validation, as the node words it)."""


def api_router() -> APIRouter:
    """The public API's routes."""
    router = APIRouter(prefix="/api/v1", tags=["public"])

    @router.get(
        "/lookup",
        response_model=LookupResult,
        responses=_ERRORS,
        summary="查验: a receipt's status, only when every detail matches",
    )
    async def lookup(
        request: Request,
        code: Annotated[str, Query(max_length=20, description="票据代码 (8 digits).")],
        number: Annotated[str, Query(max_length=20, description="票据号码 (up to 10 digits).")],
        check: Annotated[str, Query(max_length=20, description="校验码 (6 characters, any case).")],
        amount: Annotated[
            str | None, Query(max_length=30, description="The total, when it should be checked.")
        ] = None,
    ) -> LookupResult:
        # Served by lookup_endpoint (plain ASGI) in the running node; this route describes it
        # in the OpenAPI description, and answers the same when called (create_app(fast=False)).
        return await _look_up(node_of(request), client_of(request), code, number, check, amount)

    @router.post(
        "/verify",
        response_model=VerifyResult,
        responses=_BODY_ERRORS,
        summary="Verify an uploaded receipt (PDF or XML) as `receipts verify` does",
    )
    async def verify(
        request: Request,
        file: Annotated[UploadFile, File(description="A receipt PDF or its signed XML.")],
    ) -> VerifyResult:
        admit(request, node_of(request).config.rate.upload_cost)
        data = await file.read()
        report = await run_in_threadpool(verify_upload, node_of(request), data, file.filename or "")
        return verify_result(report)

    @router.post(
        "/receipt.pdf",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "The receipt's PDF."},
            404: _problem("No receipt matches these details."),
            **_BODY_ERRORS,
        },
        summary="The signed PDF of a receipt, for whoever holds its code, number and check code",
    )
    def pdf(
        request: Request,
        code: Annotated[str, Form(max_length=20, description="票据代码.")],
        number: Annotated[str, Form(max_length=20, description="票据号码.")],
        check: Annotated[str, Form(max_length=20, description="校验码 (any case).")],
        amount: Annotated[str | None, Form(max_length=30, description="The total.")] = None,
    ) -> Response:
        admit(request, node_of(request).config.rate.pdf_cost)
        details = parse_details(code, number, check, amount)
        answer, pdf = receipt_pdf(node_of(request), details)
        if pdf is None:
            charge_failed_lookup(request)
            return error_response(request.url.path, 404, "no receipt matches these details")
        return pdf_response(answer, pdf)

    return router
