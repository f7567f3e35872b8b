"""A federation with receipts, served by the node in-process (FastAPI's TestClient), for the
node's API, page, browser and fuzzing tests.

:func:`seeded_city` builds 银川 (640100, under 宁夏 640000) with numbers 1-10 allocated and:

- number 1, issued to 宁夏贺兰山实业有限公司 for 100.00, then reversed by
- number 3, the red receipt (-100.00);
- number 2, issued to the individual 张晓梅 for 25.50;
- numbers 11 and 12, a second segment, written off (never issued).

On SQLite the workspaces are built once per test process and copied for each caller; with
``db`` (a PostgreSQL URL) they are built afresh into that database. :func:`node_client` serves
a workspace with a :class:`receipts.node.state.NodeState` whose ``[serve]`` the caller may
adjust and whose clock it may move (the rate limiter's).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.node.app import create_app
from receipts.node.config import ServeConfig
from receipts.node.state import NodeState
from receipts.render.qr import qr_content
from receipts.workspace import CONFIG_NAME
from tests.support.workspaces import federation, ok, receipts

__all__ = [
    "CITY_PAYER",
    "PERSON_PAYER",
    "PUBLIC_BASE_URL",
    "Clock",
    "SeededCity",
    "SeededReceipt",
    "node_client",
    "node_state",
    "seeded_city",
]

PUBLIC_BASE_URL = "https://cx.yinchuan.example"
"""银川's ``[serve] public_base_url``: its receipts' QR codes are URLs under it."""
CITY_PAYER = "宁夏贺兰山实业有限公司"
PERSON_PAYER = "张晓梅"


@dataclass(frozen=True)
class SeededReceipt:
    """What the paper of a seeded receipt says."""

    number: int
    """Its number."""
    check_code: str
    """Its check code (lower case, as stored)."""
    total: Decimal
    """Its total."""
    payer: str
    """The payer's full name."""
    qr: str
    """What its QR code holds: the URL under :data:`PUBLIC_BASE_URL`."""


@dataclass(frozen=True)
class SeededCity:
    """The seeded city workspace."""

    home: Path
    """银川's workspace."""
    province: Path
    """宁夏's workspace (its parent)."""
    code: str
    """The receipt code of every seeded receipt."""
    receipts: dict[int, SeededReceipt]
    """Numbers 1 (reversed), 2 (issued) and 3 (the red receipt of 1)."""
    db: str | None = None
    """The ledger URL, None for the workspace's SQLite file."""

    def query(self, receipt: int, /, **changes: str) -> dict[str, str]:
        """The look-up query of receipt ``receipt`` (code, number, check), with ``changes``."""
        seeded = self.receipts[receipt]
        params = {"code": self.code, "number": str(receipt), "check": seeded.check_code}
        return params | changes


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def seeded_city(base: Path, db: str | None = None) -> SeededCity:
    """The seeded city (and its province) under ``base``; see the module's docstring."""
    if db is not None:
        return _build(base, db)
    template = _template()
    shutil.copytree(template.province, base / "prov")
    shutil.copytree(template.home, base / "city")
    return replace(template, home=base / "city", province=base / "prov")


@functools.cache
def _template() -> SeededCity:
    base = Path(tempfile.mkdtemp(prefix="seeded-node-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)  # copied from, never served
    return _build(base, None)


def _build(base: Path, db: str | None) -> SeededCity:
    prov, city = base / "prov", base / "city"
    federation(prov, "640000")
    federation(city, "640100")
    with (city / CONFIG_NAME).open("a", encoding="utf-8") as config:
        config.write(f'\n[serve]\npublic_base_url = "{PUBLIC_BASE_URL}"\n')

    def run(home: Path, *args: str) -> str:
        result = receipts(home, *args, db=db if home == city else None)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result.stdout

    ok(prov, "org", "add", "--code", "640100")
    allocation = str(base / "allocation.xml")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "10", "-o", allocation)
    run(city, "stock", "import", allocation)
    payers = [
        (CITY_PAYER, "enterprise", ["--payer-uscc", "91640100MA7600001J"], "01:2026-10:100.00"),
        (PERSON_PAYER, "individual", ["--payer-id", "M-0042"], "02:2026-10:5100.00*0.005"),
    ]
    for name, kind, identity, item in payers:
        run(
            city,
            *("issue", "--payer-name", name, "--payer-kind", kind, *identity),
            *("--item", item, "--handler", "甲", "--reviewer", "乙"),
        )
    code = json.loads(run(city, "--json", "stock", "list"))[0]["segment"][:8]
    run(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    spare = str(base / "spare.xml")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "2", "-o", spare)
    run(city, "stock", "import", spare)
    run(city, "stock", "write-off", f"{code}:11-12")
    seeded = {}
    for number in (1, 2, 3):
        shown = json.loads(run(city, "--json", "show", code, str(number)))
        qr = qr_content(parse_receipt_xml(run(city, "show", code, str(number), "--xml").encode()))
        seeded[number] = SeededReceipt(
            number, shown["check_code"], Decimal(shown["total"]), shown["payer"], qr
        )
    return SeededCity(city, prov, code, seeded, db)


def node_state(
    city: SeededCity,
    clock: Callable[[], float] | None = None,
    **serve: Any,
) -> NodeState:
    """A :class:`NodeState` over ``city`` with ``[serve]`` values ``serve`` (ServeConfig fields)
    and the access log in ``logs/access.jsonl`` unless given."""
    serve.setdefault("access_log", str(city.home / "logs" / "access.jsonl"))
    serve.setdefault("public_base_url", PUBLIC_BASE_URL)
    config = ServeConfig(**serve)
    kwargs: dict[str, Callable[[], float]] = {} if clock is None else {"clock": clock}
    return NodeState.open(city.home, city.db, config, **kwargs)


def node_client(state: NodeState, **kwargs: Any) -> TestClient:
    """A TestClient of the node's app over ``state`` (``raise_server_exceptions=False``: a
    500 is an answer to assert on, not an exception in the test)."""
    kwargs.setdefault("raise_server_exceptions", False)
    return TestClient(create_app(state), **kwargs)
