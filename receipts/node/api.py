"""The public JSON API (no login): ``GET /api/v1/lookup``, ``POST /api/v1/verify`` and
``POST /api/v1/receipt.pdf`` (docs/architecture.md, "The federation node"; the fields are a
contract: a payer's booking asks the issuer's node through ``/api/v1/lookup``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from receipts.node.guards import admit, charge_failed_lookup, node_of
from receipts.node.lookups import PublicReceipt, parse_details, public_lookup
from receipts.node.problems import Problem

__all__ = ["LookupResult", "api_router", "lookup_result"]

_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": Problem, "description": "A detail is malformed."},
    429: {"model": Problem, "description": "Too many requests from this address."},
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


def api_router() -> APIRouter:
    """The public API's routes."""
    router = APIRouter(prefix="/api/v1", tags=["public"])

    @router.get(
        "/lookup",
        response_model=LookupResult,
        responses=_ERRORS,
        summary="查验: a receipt's status, only when every detail matches",
    )
    def lookup(
        request: Request,
        code: Annotated[str, Query(max_length=20, description="票据代码 (8 digits).")],
        number: Annotated[str, Query(max_length=20, description="票据号码 (up to 10 digits).")],
        check: Annotated[str, Query(max_length=20, description="校验码 (6 characters, any case).")],
        amount: Annotated[
            str | None, Query(max_length=30, description="The total, when it should be checked.")
        ] = None,
    ) -> LookupResult:
        admit(request, 1)
        answer = public_lookup(node_of(request), parse_details(code, number, check, amount))
        if not answer.found:
            charge_failed_lookup(request)
        return lookup_result(answer)

    return router
