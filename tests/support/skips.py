"""Skip a test locally, fail it under CI: the one rule for what a test needs from outside.

A developer's machine may lack an outside tool (xmllint, xmlsec1, pdftotext, qpdf, certutil), a
font or a PostgreSQL server; the test then skips and says what to install. CI sets ``CI=true``
and installs all of them (``.ci/run``), so there a missing one is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import NoReturn

import pytest

__all__ = ["in_ci", "need_tool", "skip_or_fail"]


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """True under CI (``CI=true``, as CI services set it)."""
    return environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the running test with ``reason``, or fail it under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI must run every test)")
    pytest.skip(reason)


def need_tool(name: str, debian_package: str) -> str:
    """The path of the outside tool ``name``; skip (fail under CI) without it."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed (Debian: {debian_package})")
    return path
