"""Every error the node answers: a JSON problem (RFC 9457) on the API, a Chinese page on the
查验 pages; never a stack trace (docs/security.md, "The public surface")."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from receipts.errors import InvalidInput
from receipts.node.templates import error_page

__all__ = ["Problem", "error_response", "install_handlers", "wants_json"]

logger = logging.getLogger("receipts.node")

#: What each refusal tells a person, in Chinese (the API's problems say it in English).
MESSAGES = {
    400: "请求有误。",
    404: "没有这个页面。",
    405: "不支持这种请求方式。",
    413: "提交的内容太大。",
    415: "不支持这种内容类型。",
    422: "输入有误，请检查后重新填写。",
    429: "查询过于频繁，请稍后再试。",
    500: "服务暂时出了问题，请稍后再试。",
    503: "服务暂时不可用，请稍后再试。",
}


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field("about:blank", description="Always about:blank: the status says it.")
    title: str = Field(description="The status's phrase.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="What was wrong, in one sentence.")


def wants_json(path: str) -> bool:
    """Whether ``path`` is answered in JSON (the API, health, the OpenAPI description)."""
    return path.startswith("/api/") or path in ("/healthz", "/openapi.json")


def error_response(
    path: str,
    status: int,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    """The answer to a refused request at ``path``: ``detail`` (English) in a JSON problem,
    ``message`` (Chinese, default by status) on a page."""
    phrase = HTTPStatus(status).phrase
    if wants_json(path):
        body = Problem(type="about:blank", title=phrase, status=status, detail=detail or phrase)
        return JSONResponse(
            body.model_dump(),
            status_code=status,
            headers=headers,
            media_type="application/problem+json",
        )
    return error_page(status, message or MESSAGES.get(status, phrase), headers)


def install_handlers(app: FastAPI) -> None:
    """Route FastAPI's and Starlette's errors through :func:`error_response`."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else None
        message = None
        if exc.status_code == 429 and headers and "retry-after" in headers:
            message = f"查询过于频繁，请 {headers['retry-after']} 秒后再试。"
        return error_response(request.url.path, exc.status_code, detail, headers, message)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        detail = "invalid request: " + ", ".join(fields) if fields else "invalid request"
        return error_response(request.url.path, 422, detail)

    async def invalid_input(request: Request, exc: Exception) -> Response:
        return error_response(request.url.path, 422, str(exc), message=f"输入有误：{exc}")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InvalidInput, invalid_input)
