"""Where the nodes this workspace calls are (docs/operations.md, "Push and sync"), from its
``receipts.toml``:

    [upstream]
    url = "https://node.nx.example.cn"     # the tier above's node: transmit push, sync
    timeout = 300                          # seconds a sync keeps retrying (default 120)

    [issuers]                              # a payer's: issuer org code → its node, for booking
    "640100" = "https://node.yinchuan.example.cn"

A command's ``--url`` overrides ``[upstream] url``. Every URL is checked when it is used.
"""

from __future__ import annotations

import tomllib
from typing import Any

from receipts.domain.divisions import validate_division_code
from receipts.errors import ConfigurationError, InvalidInput
from receipts.transmission.http_client import validate_node_url
from receipts.workspace import CONFIG_NAME, Workspace

__all__ = ["DEFAULT_SYNC_SECONDS", "issuer_urls", "sync_seconds", "upstream_url"]

DEFAULT_SYNC_SECONDS = 120.0
"""How long a push or sync keeps retrying a call before it gives up (exit 3)."""


def _table(workspace: Workspace, name: str) -> dict[str, Any]:
    path = workspace.home / CONFIG_NAME
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{path}: [{name}] must be a table")
    return table


def _upstream(workspace: Workspace) -> dict[str, Any]:
    table = _table(workspace, "upstream")
    if unknown := set(table) - {"url", "timeout"}:
        raise ConfigurationError(f"unknown keys in [upstream]: {', '.join(sorted(unknown))}")
    return table


def upstream_url(workspace: Workspace, override: str | None) -> str:
    """The tier above's node: ``override`` (``--url``), else ``[upstream] url``."""
    if override:
        return validate_node_url(override, "--url")
    url = _upstream(workspace).get("url")
    if url is None:
        raise InvalidInput("no node to call: give its URL, or set [upstream] url in receipts.toml")
    if not isinstance(url, str):
        raise ConfigurationError("[upstream] url must be a string")
    try:
        return validate_node_url(url, "[upstream] url")
    except InvalidInput as exc:
        raise ConfigurationError(str(exc)) from None


def sync_seconds(workspace: Workspace, override: float | None) -> float:
    """How long calls keep retrying: ``override``, else ``[upstream] timeout``, else 120 s."""
    if override is not None:
        value: Any = override
    else:
        value = _upstream(workspace).get("timeout", DEFAULT_SYNC_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise InvalidInput("the retry time must be between 0 and 86400 seconds")
    return float(value)


def issuer_urls(workspace: Workspace) -> dict[str, str]:
    """A payer's ``[issuers]`` table: issuer org code → its node's URL, each checked."""
    out: dict[str, str] = {}
    for code, url in _table(workspace, "issuers").items():
        try:
            validate_division_code(code, what="[issuers] key")
            if not isinstance(url, str):
                raise InvalidInput(f"[issuers] {code} must be a URL string")
            out[code] = validate_node_url(url, f"[issuers] {code}")
        except InvalidInput as exc:
            raise ConfigurationError(str(exc)) from None
    return out
