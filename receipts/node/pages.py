"""The public 查验 pages (docs/security.md, "The public surface"): Chinese, usable on a phone,
without JavaScript and without anything from another site.

``/`` the look-up form → ``POST /lookup`` the result (the details travel in the body, so the
check code stays out of addresses, histories and proxies' logs); ``GET /q`` the page a QR code
opens; ``/verify`` an upload → its findings; ``POST /pdf`` the signed PDF after a look-up. Every
answer that did not match is the one same "not found" page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from receipts.errors import InvalidInput
from receipts.node.api import pdf_response
from receipts.node.documents import receipt_pdf, verify_upload
from receipts.node.guards import admit, charge_failed_lookup, node_of
from receipts.node.lookups import Details, PublicReceipt, parse_details, public_lookup
from receipts.node.qr import SealCheck, qr_lookup
from receipts.node.stylesheet import stylesheet_response
from receipts.node.templates import page

__all__ = ["pages_router"]

_BAD_DETAILS = (
    "请检查填写的内容：票据代码为 8 位数字，票据号码最多 10 位数字，校验码为 6 位字母或数字，"
    "金额如 100.00。"
)
_FIELD = Form(max_length=40)


def _result(details: Details, answer: PublicReceipt, seal: SealCheck | None = None) -> HTMLResponse:
    """The result page, or the one "not found" page (the same bytes whatever did not match)."""
    if not answer.found:
        return page("notfound.html")
    if seal is None:
        return page("result.html", answer=answer, details=details)
    return page("result.html", answer=answer, details=details, seal=seal)


def pages_router() -> APIRouter:
    """The pages' routes (left out of the OpenAPI description, which describes the API)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> HTMLResponse:
        return page("index.html")

    @router.get("/static/node.css")
    def stylesheet() -> Response:
        return stylesheet_response()

    @router.post("/lookup")
    def lookup(
        request: Request,
        code: Annotated[str, _FIELD],
        number: Annotated[str, _FIELD],
        check: Annotated[str, _FIELD],
        amount: Annotated[str, _FIELD] = "",
    ) -> HTMLResponse:
        admit(request, 1)
        try:
            details = parse_details(code, number, check, amount)
        except InvalidInput:
            return page("index.html", 422, error=_BAD_DETAILS)
        answer = public_lookup(node_of(request), details)
        if not answer.found:
            charge_failed_lookup(request)
        return _result(details, answer)

    @router.get("/q")
    def qr(request: Request) -> HTMLResponse:
        admit(request, 1)
        scan = qr_lookup(node_of(request), request)
        if scan is None:
            return page("notfound.html", 422, qr_invalid=True)
        if not scan.answer.found:
            charge_failed_lookup(request)
        return _result(scan.details, scan.answer, seal=scan.seal)

    @router.post("/pdf")
    def pdf(
        request: Request,
        code: Annotated[str, _FIELD],
        number: Annotated[str, _FIELD],
        check: Annotated[str, _FIELD],
        amount: Annotated[str, _FIELD] = "",
    ) -> Response:
        admit(request, node_of(request).config.rate.pdf_cost)
        try:
            details = parse_details(code, number, check, amount)
        except InvalidInput:
            return page("index.html", 422, error=_BAD_DETAILS)
        answer, pdf = receipt_pdf(node_of(request), details)
        if pdf is None:
            charge_failed_lookup(request)
            return page("notfound.html", 404)
        return pdf_response(answer, pdf)

    @router.get("/verify")
    def upload_form(request: Request) -> HTMLResponse:
        return page("upload.html", limit=node_of(request).config.max_upload_bytes)

    @router.post("/verify")
    async def upload(request: Request, file: Annotated[UploadFile, File()]) -> HTMLResponse:
        state = node_of(request)
        admit(request, state.config.rate.upload_cost)
        data = await file.read()
        report = await run_in_threadpool(verify_upload, state, data, file.filename or "")
        return page("findings.html", report=report, result=report.verification)

    return router
