"""The public JSON API (no login): ``GET /api/v1/lookup``, ``POST /api/v1/verify`` and
``POST /api/v1/receipt.pdf`` (docs/architecture.md, "The federation node"; the fields are a
contract: a payer's booking asks the issuer's node through ``/api/v1/lookup``)."""

from __future__ import annotations

import asyncio
import weakref
from datetime import date
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from receipts.node.documents import UploadReport, receipt_pdf, verify_upload
from receipts.node.guards import admit, charge_failed_lookup, node_of
from receipts.node.lookups import PublicReceipt, parse_details, public_lookup
from receipts.node.problems import Problem, error_response

__all__ = ["LookupResult", "VerifyResult", "api_router", "lookup_result", "pdf_response"]


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


_LOOKUP_THREADS = 2
"""Look-ups read the ledger in at most this many threads per worker: each holds the GIL for most
of its 0.4 ms, so more threads only queue behind it and slow the event loop's other requests
(bench/serve.py: 2 threads 1.7 ms a request in-process, the default 40 threads 2.9 ms)."""
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _lookup_threads() -> anyio.CapacityLimiter:
    """The look-up threads' limiter of the running event loop (one per worker process; tests run
    several loops, and a limiter belongs to the loop it first waited in)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(_LOOKUP_THREADS)
    return limiter


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
        admit(request, 1)
        details = parse_details(code, number, check, amount)
        # One hop to a worker thread for the ledger read; the rest runs on the event loop (a
        # sync route costs FastAPI several hops per request: bench/serve.py).
        answer = await anyio.to_thread.run_sync(
            public_lookup, node_of(request), details, limiter=_lookup_threads()
        )
        if not answer.found:
            charge_failed_lookup(request)
        return lookup_result(answer)

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
