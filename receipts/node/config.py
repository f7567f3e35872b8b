"""``[serve]`` in ``receipts.toml``: where and how ``receipts serve`` listens, and its limits
(docs/operations.md, "Running the node").

Every key is optional; a bad one is named on its own line, all at once, before anything starts.
``--host``, ``--port`` and ``--workers`` override the file (:meth:`ServeConfig.override`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from receipts.domain.qr_url import canonical_base_url
from receipts.errors import ConfigurationError, InvalidInput
from receipts.support.sizes import MAX_PDF_BYTES
from receipts.transmission.import_settings import ImportSettings, import_settings
from receipts.workspace import CONFIG_NAME, Workspace

__all__ = ["RateLimit", "ServeConfig", "load_serve_config", "parse_serve_config"]

_MIB = 1024 * 1024
_MAX_PUSH_BYTES = 1 << 44
"""What ``max_push_bytes`` may be set to (16 TiB); what a push may really be is bounded by
``[transmission]`` too (:attr:`ServeConfig.max_push_bytes`)."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per client address (docs/security.md, "Enumeration")."""

    per_minute: float = 30.0
    """Tokens added per minute."""
    burst: int = 20
    """The bucket's size: how many tokens a client may spend at once."""
    failed_lookup_cost: int = 5
    """What a look-up that matches nothing costs (one that matches costs 1): somebody guessing
    check codes fails almost every time, so pays five times what a payer pays."""
    upload_cost: int = 5
    """What an upload to verify costs (it parses and verifies signatures: tens of ms)."""
    pdf_cost: int = 3
    """What a PDF download costs (it renders the receipt)."""


@dataclass(frozen=True)
class ReplicaConfig:
    """``replica_url`` and its limits: where the public look-ups read while it keeps up."""

    url: str
    """A PostgreSQL URL without a password (libpq's ``PGPASSFILE`` or ``PGPASSWORD`` gives it)."""
    max_lag_seconds: float = 5.0
    """Behind the primary by more than this much replay, and the primary answers instead."""
    check_seconds: float = 1.0
    """How often each worker compares the replica's WAL position with the primary's."""


@dataclass(frozen=True)
class ServeConfig:
    """The validated ``[serve]`` table."""

    host: str = "127.0.0.1"
    """Bind address (loopback by default: put a reverse proxy or ``host = "0.0.0.0"``)."""
    port: int = 8080
    """TCP port."""
    tls_cert: Path | None = None
    """PEM certificate chain for HTTPS (with ``tls_key``), relative to the workspace."""
    tls_key: Path | None = None
    """PEM private key for HTTPS, relative to the workspace."""
    public_base_url: str | None = None
    """The URL the public reaches this node at (QR codes point under it), e.g.
    ``https://cx.nxgh.org.cn``; None: as the request came in."""
    workers: int = 1
    """Worker processes (several only on PostgreSQL, docs/operations.md)."""
    max_upload_bytes: int = 4 * _MIB
    """The largest upload to verify (a receipt PDF is tens of KB)."""
    max_push_bytes: int = ImportSettings().max_file_bytes
    """The largest request body of the tier API (a transmission package). A push is streamed to
    a file and imported from it, never held in memory, so this bounds disk and time: by default,
    and at most, the package file size that ``[transmission]`` accepts (``max_receipts``:
    ~20 GB for 1,000,000 receipts), lower when ``[serve] max_push_bytes`` says so
    (:func:`load_serve_config`)."""
    trusted_proxies: int = 0
    """How many reverse proxies in front append to ``X-Forwarded-For``: the client address is
    the one that many hops from the right; 0 trusts the header not at all."""
    access_log: str = "-"
    """Where the JSON-lines access log goes: ``-`` standard output, else a file (relative to
    the workspace)."""
    rate: RateLimit = dataclasses.field(default_factory=RateLimit)
    """The per-client token bucket of the public routes."""
    replica: ReplicaConfig | None = None
    """A PostgreSQL streaming replica for the public look-ups (receipts/node/replica.py)."""
    transmission: ImportSettings = dataclasses.field(default_factory=ImportSettings)
    """The workspace's ``[transmission]`` table: how a pushed package is imported, as
    ``transmit import`` imports a file."""

    @property
    def tls(self) -> bool:
        """Whether the node serves HTTPS itself."""
        return self.tls_cert is not None

    def override(
        self, host: str | None = None, port: int | None = None, workers: int | None = None
    ) -> ServeConfig:
        """The command line's ``--host``/``--port``/``--workers`` over the file."""
        changes: dict[str, Any] = {}
        if host is not None:
            changes["host"] = _host(host, [])
        if port is not None:
            changes["port"] = port
        if workers is not None:
            changes["workers"] = workers
        return dataclasses.replace(self, **changes)


_KEYS = {
    "host",
    "port",
    "tls_cert",
    "tls_key",
    "public_base_url",
    "workers",
    "max_upload_bytes",
    "max_push_bytes",
    "trusted_proxies",
    "access_log",
    "rate_per_minute",
    "rate_burst",
    "failed_lookup_cost",
    "upload_cost",
    "pdf_cost",
    "replica_url",
    "replica_max_lag_seconds",
    "replica_check_seconds",
}


def load_serve_config(workspace: Workspace) -> ServeConfig:
    """The ``[serve]`` table of the workspace's ``receipts.toml`` (defaults when absent). Its
    ``public_base_url`` was already validated when the workspace was opened (issuing signs it
    into receipts: :attr:`receipts.workspace.WorkspaceConfig.public_base_url`).

    With the ``[transmission]`` table (a bad one refused here, before anything starts): a push
    is at most the package file that table accepts, whatever ``max_push_bytes`` says."""
    where = f"{workspace.home / CONFIG_NAME} [serve]"
    transmission = import_settings(workspace)
    return parse_serve_config(workspace.config.serve, workspace.home, where, transmission)


def parse_serve_config(
    table: dict[str, Any],
    home: Path,
    where: str = "[serve]",
    transmission: ImportSettings | None = None,
) -> ServeConfig:
    """Validate a ``[serve]`` table; every bad key is one line of the error. ``transmission``:
    the workspace's ``[transmission]`` table (defaults when None), which bounds a push too."""
    transmission = transmission or ImportSettings()
    problems: list[str] = [f"unknown key {k!r}" for k in sorted(set(table) - _KEYS)]
    get = table.get
    host = _host(get("host", "127.0.0.1"), problems)
    port = _int(get("port", 8080), "port", 1, 65535, problems)
    cert, key = _path(get("tls_cert"), home, "tls_cert"), _path(get("tls_key"), home, "tls_key")
    if (cert is None) != (key is None):
        problems.append("tls_cert and tls_key go together: give both or neither")
    for name, file in (("tls_cert", cert), ("tls_key", key)):
        if file is not None and not file.is_file():
            problems.append(f"{name}: no such file {file}")
    base = _base_url(get("public_base_url"), problems)
    workers = _int(get("workers", 1), "workers", 1, 64, problems)
    upload = _int(
        get("max_upload_bytes", 4 * _MIB), "max_upload_bytes", 1024, MAX_PDF_BYTES, problems
    )
    push_limit = get("max_push_bytes", _MAX_PUSH_BYTES)
    push = _int(push_limit, "max_push_bytes", 1024, _MAX_PUSH_BYTES, problems)
    proxies = _int(get("trusted_proxies", 0), "trusted_proxies", 0, 10, problems)
    log = get("access_log", "-")
    if not isinstance(log, str) or not log:
        problems.append('access_log must be "-" (standard output) or a file name')
        log = "-"
    rate = _rate(table, problems)
    replica = _replica(table, problems)
    if problems:
        raise ConfigurationError("\nerror: ".join(f"{where} {p}" for p in problems))
    if log != "-":
        log = str(home / log)
    # A push is imported as ``transmit import`` imports a file: never larger than that file.
    push = min(push, transmission.max_file_bytes)
    return ServeConfig(
        host,
        port,
        cert,
        key,
        base,
        workers,
        upload,
        push,
        proxies,
        log,
        rate,
        replica,
        transmission,
    )


def _replica(table: dict[str, Any], problems: list[str]) -> ReplicaConfig | None:
    url = table.get("replica_url")
    if url is None:
        for key in ("replica_max_lag_seconds", "replica_check_seconds"):
            if key in table:
                problems.append(f"{key} needs replica_url")
        return None
    try:
        parsed = make_url(url) if isinstance(url, str) else None
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() != "postgresql":
        problems.append("replica_url must be a postgresql:// URL (a streaming replica)")
        return None
    if parsed.password is not None:
        problems.append(
            "replica_url must not carry a password: give it through PGPASSFILE or PGPASSWORD"
        )
        return None
    numbers = []
    for key, default, low, high in (
        ("replica_max_lag_seconds", 5.0, 0.0, 3600.0),
        ("replica_check_seconds", 1.0, 0.1, 60.0),
    ):
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            problems.append(f"{key} must be a number from {low:g} to {high:g}, not {value!r}")
            value = default
        numbers.append(float(value))
    return ReplicaConfig(url, numbers[0], numbers[1])


def _rate(table: dict[str, Any], problems: list[str]) -> RateLimit:
    default = RateLimit()
    per_minute = table.get("rate_per_minute", default.per_minute)
    if isinstance(per_minute, bool) or not isinstance(per_minute, int | float) or per_minute <= 0:
        problems.append(f"rate_per_minute must be a number above 0, not {per_minute!r}")
        per_minute = default.per_minute
    burst = _int(table.get("rate_burst", default.burst), "rate_burst", 1, 100_000, problems)
    costs = [
        _int(table.get(name, getattr(default, attr)), name, 1, 1000, problems)
        for name, attr in (
            ("failed_lookup_cost", "failed_lookup_cost"),
            ("upload_cost", "upload_cost"),
            ("pdf_cost", "pdf_cost"),
        )
    ]
    for name, cost in zip(("failed_lookup_cost", "upload_cost", "pdf_cost"), costs, strict=True):
        if cost > burst:
            problems.append(f"{name} ({cost}) is more than rate_burst ({burst}): never affordable")
    return RateLimit(float(per_minute), burst, *costs)


def _int(value: Any, name: str, low: int, high: int, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{name} must be a whole number from {low} to {high}, not {value!r}")
        return low
    return value


def _host(value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not value:
        problems.append(f"host must be an IP address or a host name, not {value!r}")
        return "127.0.0.1"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        name = value.rstrip(".")
        labels = name.split(".")
        if not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels
        ):
            problems.append(f"host must be an IP address or a host name, not {value!r}")
    return value


def _path(value: Any, home: Path, name: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        return home / f"<{name} must be a file name>"
    path = Path(value)
    return path if path.is_absolute() else home / path


def _base_url(value: Any, problems: list[str]) -> str | None:
    if value is None:
        return None
    try:
        return canonical_base_url(value, "public_base_url")
    except InvalidInput as exc:
        problems.append(str(exc))
        return None
