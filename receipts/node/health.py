"""``GET /healthz``: whether this worker can serve — its ledger answers, belongs to this
federation, and its schema is at the code's head (docs/operations.md, "Running the node")."""

from __future__ import annotations

import functools
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


def health_router() -> APIRouter:
    """The health route."""
    router = APIRouter()

    @router.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health, "description": "The node cannot serve."}},
        summary="Health: ledger reachable, schema at head",
        tags=["operations"],
    )
    def healthz(request: Request) -> JSONResponse:
        health = check(request.app.state.node)
        status = 200 if health.status == "ok" else 503
        return JSONResponse(health.model_dump(), status_code=status)

    return router
