"""What one worker process of the node holds: the workspace, its ledger, the trust that uploads
are verified against, the ``[serve]`` configuration, the rate limiter and the access log
(docs/architecture.md, "The federation node").

A :class:`NodeState` is made once per worker process (``app_from_env``) and shared by every
request that process serves. It holds no key: the public routes only read the ledger; the tier
API unlocks the signing key itself, for its acknowledgements, once per worker (``tier.py``). In a
workspace with operators the node acts as one of them, named by ``RECEIPTS_OPERATOR`` and proved
by ``RECEIPTS_OPERATOR_SECRET`` (a batch job's way, docs/operations.md): their key slot unlocks
the signing key, and every event the node writes records them.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from receipts.errors import NotPermitted
from receipts.ledger.database import Database, default_url
from receipts.lookup import LookupReader
from receipts.node.access_log import AccessLog
from receipts.node.config import ServeConfig, load_serve_config
from receipts.node.ratelimit import RateLimiter
from receipts.node.replica import ReplicaRouter
from receipts.pki.credentials import Credentials
from receipts.pki.operator_auth import Authenticated, authenticate, writer_of
from receipts.workspace import Workspace, WorkspaceKind
from signing.trust import ChainValidator

__all__ = [
    "DB_ENV",
    "HOME_ENV",
    "OPERATOR_ENV",
    "SALT_NAME",
    "SECRET_ENV",
    "NodeState",
    "log_salt",
    "node_operator",
]

HOME_ENV, DB_ENV = "RECEIPTS_HOME", "RECEIPTS_DB"
"""The environment ``receipts serve`` sets for its uvicorn workers (``app_from_env``)."""
OPERATOR_ENV, SECRET_ENV = "RECEIPTS_OPERATOR", "RECEIPTS_OPERATOR_SECRET"
"""Who the node acts as in a workspace with operators, and their secret."""
SALT_NAME = "access-log.salt"
"""The file under ``logs/`` holding the secret salt of client-address hashes in the access log."""


@dataclass
class NodeState:
    """One worker's view of its federation."""

    workspace: Workspace
    """The federation's workspace (a payer workspace runs no node)."""
    db: Database
    """Its ledger; reads for the public routes, transactions for the tier API."""
    config: ServeConfig
    """The validated ``[serve]`` table, with the command line's overrides."""
    clock: Callable[[], float] = time.monotonic
    """Seconds, for the rate limiter's buckets (tests move it by hand)."""
    wall_clock: Callable[[], float] = time.time
    """Seconds since the epoch, for the access log's times."""
    limiter: RateLimiter = field(init=False)
    """Token buckets per client address (per process: docs/operations.md)."""
    access_log: AccessLog = field(init=False)
    """Where each request is logged, one JSON line, without personal data."""
    reader: LookupReader = field(init=False)
    """The public look-ups' read-only connections to the ledger."""
    replica_reader: LookupReader | None = field(default=None, init=False)
    """The same on the streaming replica, when ``[serve] replica_url`` names one."""
    router: ReplicaRouter = field(init=False)
    """Whether the replica is fit to answer now (receipts/node/replica.py)."""
    operator: Authenticated | None = field(default=None, init=False)
    """The operator the node acts as; None in a workspace without operators."""

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate, self.clock)
        self.access_log = AccessLog(
            self.config.access_log, log_salt(self.workspace), self.wall_clock
        )
        self.reader = LookupReader(self.db)
        replica = self.config.replica
        replica_db = Database(replica.url) if replica is not None else None
        if replica_db is not None:
            self.replica_reader = LookupReader(replica_db)
        self.router = ReplicaRouter(
            self.db,
            replica_db,
            max_lag_seconds=replica.max_lag_seconds if replica else 5.0,
            check_seconds=replica.check_seconds if replica else 1.0,
        )

    def lookup_reader(self) -> LookupReader:
        """The replica's reader while it keeps up, else the primary's."""
        if self.replica_reader is not None and self.router.reader() is not self.db:
            return self.replica_reader
        return self.reader

    @classmethod
    def open(
        cls,
        home: Path,
        db_url: str | None = None,
        config: ServeConfig | None = None,
        **kwargs: Callable[[], float],
    ) -> NodeState:
        """The state of the workspace at ``home``. The ledger is opened, not migrated: ``receipts
        serve`` migrates it once before starting workers, and ``/healthz`` reports a schema
        behind the code."""
        workspace = Workspace.open(home).require(WorkspaceKind.FEDERATION)
        db = Database(db_url or default_url(home))
        state = cls(workspace, db, config or load_serve_config(workspace), **kwargs)
        state.operator = node_operator(workspace, db)
        if state.operator is not None:
            operator = state.operator
            db.authorise = lambda: writer_of(operator)
        return state

    def unlock(self, credentials: Credentials) -> Credentials:
        """``credentials`` whose signing key the node's operator unlocks (their key slot); as
        they are in a workspace without operators (``RECEIPTS_KEY_PASSPHRASE``)."""
        if self.operator is not None:
            credentials.key_unlock = self.operator.key_passphrase
        return credentials

    _trust: tuple[int, Credentials] | None = field(default=None, init=False, repr=False)

    @property
    def credentials(self) -> Credentials:
        """The workspace's trust (not its keys), read again
        when the bundle file changes (``pki import-trust``, a new CRL), so a revocation counts
        from the next request without a restart."""
        stamp = self._bundle_stamp()
        if self._trust is None or self._trust[0] != stamp:
            self._trust = (stamp, Credentials(self.workspace))
        return self._trust[1]

    @property
    def validator(self) -> ChainValidator:
        """Chain validation against the workspace's trust bundle, for uploads and QR seals."""
        return self.credentials.validator

    def _bundle_stamp(self) -> int:
        try:
            info = (self.workspace.trust_dir / "bundle.pem").stat()
        except OSError:
            return -1
        return hash((info.st_mtime_ns, info.st_size, info.st_ino))

    @functools.cached_property
    def issuer_name(self) -> str:
        """This federation's name."""
        return self.workspace.config.name


def log_salt(workspace: Workspace) -> bytes:
    """The access log's salt: 32 random bytes made once per workspace (mode 0600), so a client's
    hash is the same in every worker and across restarts, and unknown to whoever reads the log."""
    path = workspace.home / "logs" / SALT_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
        # A salt cut short (a crash between create and write): replace it.
        path.unlink()
        return log_salt(workspace)
    salt = secrets.token_bytes(32)
    with open(fd, "wb") as handle:
        handle.write(salt)
    return salt


def node_operator(workspace: Workspace, db: Database) -> Authenticated | None:
    """The operator named by ``RECEIPTS_OPERATOR``, proved by ``RECEIPTS_OPERATOR_SECRET``;
    None in a workspace without operators. Refused in one line (:class:`NotPermitted`): a
    workspace with operators and no name, an unknown or disabled operator, a wrong secret, an
    auditor (who never writes the ledger, and the tier API writes what it imports)."""
    auth = authenticate(
        db, workspace.keys_dir, os.environ.get(OPERATOR_ENV), lambda _name: _secret()
    )
    if auth is not None:
        writer_of(auth)  # refuses an auditor before the node starts, not at its first push
    return auth


def _secret() -> str:
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise NotPermitted(f"the node's operator proves who they are with {SECRET_ENV}")
    return secret
