"""The 查验 pages' HTML: Jinja2 templates under ``receipts/node/templates/``, autoescaped
(payer names, issuers' names and uploads' findings are text from outside), no JavaScript, one
stylesheet of our own (``/static/node.css``) and nothing from any other site."""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

__all__ = ["STYLESHEET", "error_page", "page", "render"]

STYLESHEET = "/static/node.css"
"""Where the pages' one stylesheet is served."""


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("receipts.node", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """The template ``name`` filled in."""
    return _environment().get_template(name).render(stylesheet=STYLESHEET, **context)


def page(
    name: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """An HTML response of the template ``name``."""
    return HTMLResponse(render(name, **context), status_code=status_code, headers=headers)


def error_page(status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The Chinese error page: what went wrong, and the way back to the form."""
    phrase = HTTPStatus(status).phrase
    return page("error.html", status, headers, status=status, phrase=phrase, message=message)
