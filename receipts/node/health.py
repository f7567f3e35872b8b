"""``GET /healthz``: whether this worker can serve — its ledger answers, belongs to this
federation, and its schema is at the code's head (docs/operations.md, "Running the node")."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from receipts.ledger.models import LedgerState
from receipts.node.state import NodeState

__all__ = ["Health", "health_router", "schema_heads"]


class Health(BaseModel):
    """The node's health."""

    status: Literal["ok", "unavailable"] = Field(description="ok: the node can serve.")
    ledger: bool = Field(description="The ledger answered and belongs to this federation.")
    schema_at_head: bool = Field(description="The ledger's schema is the code's newest.")


@functools.cache
def schema_heads() -> frozenset[str]:
    """The newest revisions of the code's migrations."""
    config = Config()
    config.set_main_option("script_location", "receipts.ledger:migrations")
    script = ScriptDirectory.from_config(config)
    return frozenset(script.get_heads())


def check(state: NodeState) -> Health:
    """Ask the ledger (one short read)."""
    try:
        with state.db.engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
            owner = connection.execute(select(LedgerState.org_code)).scalar()
    except Exception:  # any driver error means: the ledger does not answer
        return Health(status="unavailable", ledger=False, schema_at_head=False)
    ledger = owner == state.workspace.config.org_code
    at_head = current == schema_heads()
    return Health(
        status="ok" if ledger and at_head else "unavailable", ledger=ledger, schema_at_head=at_head
    )


_FRESH_SECONDS = 1.0
"""How long an answer is given again without asking the ledger: a load balancer polls every few
seconds, and a flood of requests (the route has no rate limit, so that the balancer is never
refused) costs one ledger read a second, not one each."""


class _Recent:
    """The last answer and when it was found, per worker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[float, Health] | None = None

    def health(self, state: NodeState) -> Health:
        with self._lock:
            now = self._clock()
            if self._answer is None or now - self._answer[0] >= _FRESH_SECONDS:
                self._answer = (now, check(state))
            return self._answer[1]


def health_router(clock: Callable[[], float] = time.monotonic) -> APIRouter:
    """The health route (``clock``: what "recent" is measured with; tests pass their own)."""
    router = APIRouter()
    recent = _Recent(clock)

    @router.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health, "description": "The node cannot serve."}},
        summary="Health: ledger reachable, schema at head",
        tags=["operations"],
    )
    def healthz(request: Request) -> JSONResponse:
        health = recent.health(request.app.state.node)
        status = 200 if health.status == "ok" else 503
        return JSONResponse(health.model_dump(), status_code=status)

    return router
