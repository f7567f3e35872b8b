"""The node's ASGI application (docs/architecture.md, "The federation node").

:func:`create_app` builds the FastAPI app over one :class:`NodeState`: the public 查验 pages and
API, the health route, and the tier API's router; :func:`app_from_env` is the factory each
uvicorn worker process calls (``receipts serve`` passes the workspace in ``RECEIPTS_HOME`` and
the ledger URL in ``RECEIPTS_DB``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from receipts import __version__
from receipts.node.api import LOOKUP_PATH, api_router, lookup_endpoint
from receipts.node.health import health_router
from receipts.node.middleware import NodeMiddleware
from receipts.node.pages import pages_router
from receipts.node.problems import install_handlers
from receipts.node.state import DB_ENV, HOME_ENV, NodeState
from receipts.node.tier import tier_router
from receipts.tsa.authority import has_authority, shared_authority
from receipts.tsa.http import tsa_router

__all__ = ["NodeApp", "app_from_env", "create_app"]


def _routers(state: NodeState) -> list[APIRouter]:
    """Every router the node serves. The tier API (authenticated, ``/api/v1/tier/…``) adds its
    router here, and the time-stamp authority (``POST /tsa``) when the workspace runs one."""
    routers = [
        health_router(state.clock),
        api_router(),
        pages_router(),
        tier_router(),
    ]
    # A CA workspace that runs a time-stamp authority serves it at /tsa (docs/operations.md).
    if has_authority(state.credentials):
        routers.append(tsa_router(shared_authority(state.credentials, state.db)))
    return routers


class NodeApp(FastAPI):
    """FastAPI, with the node's plain-ASGI routes (``fast_lane.endpoints``) taken before
    FastAPI's own layers (its error, telemetry and body-limit middleware, a few per request
    that the busiest request does not need: its answers are built by the node's middleware,
    which answers errors itself)."""

    fast_lane: NodeMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.fast_lane
        if (
            lane is not None
            and scope["type"] == "http"
            and (scope["method"], scope["path"]) in lane.endpoints
        ):
            scope["app"] = self
            await lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(state: NodeState, *, fast: bool = True) -> FastAPI:
    """The node's app over ``state``. No interactive docs pages (they load scripts from other
    sites); the OpenAPI description is at ``/openapi.json``. ``fast``: ``GET /api/v1/lookup``
    is answered in plain ASGI (``api.lookup_endpoint``, in :attr:`NodeApp.fast_lane`); without
    it, by its FastAPI route (the tests compare the two)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # A graceful stop (SIGTERM) writes the access log's kept lines.
        state.access_log.close()
        state.reader.close()
        if state.replica_reader is not None:
            state.replica_reader.close()

    app = NodeApp(
        lifespan=lifespan,
        title=f"{state.workspace.config.name} — receipts node",
        version=__version__,
        description="The federation node: public 查验 (look-up, verification, PDF) and the "
        "tier API between federations.",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.node = state
    # Starlette answers "/route/" with a redirect built from the Host header and the scheme the
    # node sees: behind a TLS proxy, an http:// URL carrying the check code. No route ends in
    # "/" but the root, so such a path is simply not found.
    app.router.redirect_slashes = False
    for router in _routers(state):
        app.include_router(router)
    install_handlers(app)
    app.add_middleware(NodeMiddleware, state=state)
    if fast:
        # The same middleware (headers, access log, body limit, 500 of last resort) around the
        # plain-ASGI routes; it never calls FastAPI for them.
        app.fast_lane = NodeMiddleware(
            functools.partial(FastAPI.__call__, app),
            state,
            {("GET", LOOKUP_PATH): lookup_endpoint},
        )
    return app


def app_from_env() -> FastAPI:
    """The factory for uvicorn's workers (``uvicorn --factory receipts.node.app:app_from_env``)."""
    home = os.environ.get(HOME_ENV)
    if not home:
        raise RuntimeError(f"{HOME_ENV} is not set: start the node with 'receipts serve'")
    app = create_app(NodeState.open(Path(home), os.environ.get(DB_ENV) or None))
    # Everything loaded so far (about 170,000 objects: the libraries, the app, its routes) stays
    # for the worker's life: out of the collector's sight, a full collection takes ~0 ms instead
    # of ~200 ms (measured on this machine), a pause every request in flight would wait for.
    gc.freeze()
    return app
