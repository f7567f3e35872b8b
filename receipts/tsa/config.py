"""The ``[tsa]`` table of ``receipts.toml`` and where a workspace keeps its authority's key
(docs/operations.md, "Running the time-stamp authority")::

    [tsa]
    url = "https://acftu.example.cn/tsa"   # the authority that stamps this workspace's receipts
    policy = "2.25.…"                      # the policy OID this workspace's own authority names
    tolerance_hours = 1080                 # claimed signing time vs. time-stamp (default 45 days)
    timeout_seconds = 10                   # how long to wait for the authority
    stamp_at_issue = true                  # ask for a time-stamp right after each issue (default
                                           # false: at the latest when transmitted)

    keys/tsa.key    the authority's key, encrypted (RECEIPTS_TSA_PASSPHRASE or a prompt)
    certs/tsa.pem   its time-stamping certificate, then the intermediates (never the root)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from receipts.domain.qr_url import canonical_base_url
from receipts.errors import InvalidInput
from receipts.workspace import CONFIG_NAME, Workspace
from signing.timestamps import DEFAULT_POLICY
from signing.xades_t import DEFAULT_TOLERANCE

__all__ = [
    "MAX_TOLERANCE_HOURS",
    "TSA_PASSPHRASE_ENV",
    "TsaSettings",
    "tolerance_of",
    "tsa_cert_path",
    "tsa_key_path",
    "tsa_settings",
]

#: The environment variable the authority's key passphrase is read from (a service starts
#: unattended).
TSA_PASSPHRASE_ENV = "RECEIPTS_TSA_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
_KEYS = {"url", "policy", "tolerance_hours", "timeout_seconds", "stamp_at_issue"}
#: The widest tolerance accepted: a year and a day. Wider would let a stolen key backdate by
#: more than a year unnoticed, which no transmission schedule needs (docs/security.md).
MAX_TOLERANCE_HOURS = 24 * 366


@dataclass(frozen=True)
class TsaSettings:
    """``[tsa]``, validated."""

    url: str | None = None
    """The authority that stamps this workspace's receipts (None: none configured)."""
    policy: str = DEFAULT_POLICY
    """The policy OID this workspace's own authority names in its tokens."""
    tolerance: timedelta = DEFAULT_TOLERANCE
    """How far a claimed signing time may lie before its time-stamp before it is reported."""
    timeout: float = 10.0
    """Seconds to wait for the authority."""
    stamp_at_issue: bool = False
    """Ask the authority for each receipt's time-stamp right after it is issued (an authority
    that fails never stops issuing; ``receipts tsa stamp`` catches up)."""


def tsa_key_path(workspace: Workspace) -> Path:
    """The authority's encrypted key."""
    return workspace.keys_dir / "tsa.key"


def tsa_cert_path(workspace: Workspace) -> Path:
    """The authority's certificate and intermediates."""
    return workspace.certs_dir / "tsa.pem"


def tsa_settings(workspace: Workspace) -> TsaSettings:
    """The workspace's ``[tsa]`` table; defaults when absent, one clear error when wrong."""
    path = workspace.home / CONFIG_NAME
    try:
        table = tomllib.loads(path.read_text("utf-8")).get("tsa", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    if not isinstance(table, dict):
        raise InvalidInput("[tsa] must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise InvalidInput(f"unknown keys in [tsa]: {', '.join(sorted(unknown))}")
    url = table.get("url")
    if url is not None:
        if not isinstance(url, str):
            raise InvalidInput("[tsa] url must be a URL in quotes")
        url = canonical_base_url(url, "[tsa] url")
    policy = table.get("policy", DEFAULT_POLICY)
    if not isinstance(policy, str) or not _is_oid(policy):
        raise InvalidInput(f"[tsa] policy {policy!r} is not an object identifier (like 2.25.1)")
    hours = table.get("tolerance_hours", DEFAULT_TOLERANCE.total_seconds() / 3600)
    tolerance = tolerance_of(hours, "[tsa] tolerance_hours")
    timeout = table.get("timeout_seconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise InvalidInput("[tsa] timeout_seconds must be a number of seconds, 1 to 300")
    at_issue = table.get("stamp_at_issue", False)
    if not isinstance(at_issue, bool):
        raise InvalidInput("[tsa] stamp_at_issue must be true or false")
    return TsaSettings(url, policy, tolerance, float(timeout), at_issue)


def tolerance_of(hours: object, what: str) -> timedelta:
    """``hours`` (a number, or the text of one from a command line) as a tolerance: above 0
    and at most :data:`MAX_TOLERANCE_HOURS`; one clear error naming ``what`` otherwise."""
    value: object = hours
    if isinstance(hours, str):
        try:
            value = float(hours)
        except ValueError:
            value = None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TOLERANCE_HOURS
    ):
        raise InvalidInput(
            f"{what} must be a number of hours above 0 and at most {MAX_TOLERANCE_HOURS}, "
            f"not {hours!r}"
        )
    return timedelta(hours=value)


def _is_oid(text: str) -> bool:
    parts = text.split(".")
    return (
        len(parts) >= 2
        and all(p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts)
        and parts[0] in {"0", "1", "2"}
    )
