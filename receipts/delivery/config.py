"""The ``[smtp]`` table of ``receipts.toml``: the mail server ``receipts deliver`` sends through
(docs/delivery.md, "Configuration"). The password never lives in the file: it comes from
``RECEIPTS_SMTP_PASSWORD``, so a copied or backed-up workspace carries no mail credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipts.errors import ConfigurationError, InvalidInput
from receipts.issuing.payer_register import validate_email
from receipts.workspace import Workspace

__all__ = ["PASSWORD_ENV", "SmtpConfig", "smtp_config"]

PASSWORD_ENV = "RECEIPTS_SMTP_PASSWORD"  # noqa: S105 - a variable's name, not a secret
"""Where the SMTP password comes from (never receipts.toml)."""

_KEYS = {
    "host",
    "port",
    "starttls",
    "implicit_tls",
    "from",
    "username",
    "ca_file",
    "timeout",
    "retries",
    "retry_delay",
}
_MAX_RETRIES = 10
_MAX_DELAY = 600.0


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send, validated."""

    host: str
    """The server's host name (checked against its certificate under STARTTLS)."""
    port: int
    """Its submission port (587 by default)."""
    starttls: bool
    """Upgrade to TLS before anything else is said (default); the certificate is verified."""
    implicit_tls: bool
    """TLS from the first byte (port 465, "SMTPS") instead of STARTTLS; verified alike."""
    sender: str
    """The envelope and ``From`` address."""
    username: str | None
    """Log in as this user (AUTH, only over TLS); the password is :data:`PASSWORD_ENV`."""
    password: str | None
    """From the environment, never from the file."""
    ca_file: Path | None
    """CA certificates to verify the server with, instead of the system's."""
    timeout: float
    """Seconds to wait for the server on each step."""
    retries: int
    """Further tries of a message refused for now (4xx) within one run."""
    retry_delay: float
    """Seconds before the first further try; doubled for each next one."""

    @property
    def sender_domain(self) -> str:
        """The domain of :attr:`sender`, the right-hand side of our Message-IDs."""
        return self.sender.rpartition("@")[2].lower()


def smtp_config(workspace: Workspace, environ: Mapping[str, str] = os.environ) -> SmtpConfig:
    """The workspace's ``[smtp]`` table, validated; :class:`ConfigurationError` names the first
    problem (exit 2)."""
    where = f"{workspace.home / 'receipts.toml'} [smtp]"
    table = workspace.config.smtp
    if not table:
        raise ConfigurationError(
            f"{where}: no mail server configured; add [smtp] with host, from (and username)"
        )
    if "password" in table:
        raise ConfigurationError(
            f"{where}: a password does not belong in the file; remove it and set {PASSWORD_ENV}"
        )
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    host = _text(table, "host", where, required=True)
    assert host is not None
    sender = _text(table, "from", where, required=True)
    assert sender is not None
    try:
        validate_email(sender)
    except InvalidInput as exc:
        raise ConfigurationError(f"{where}: from: {exc}") from None
    implicit_tls = table.get("implicit_tls", False)
    if not isinstance(implicit_tls, bool):
        raise ConfigurationError(f"{where}: implicit_tls must be true or false")
    if implicit_tls and table.get("starttls") is True:
        raise ConfigurationError(f"{where}: give starttls or implicit_tls, not both")
    starttls = table.get("starttls", not implicit_tls)
    if not isinstance(starttls, bool):
        raise ConfigurationError(f"{where}: starttls must be true or false")
    username = _text(table, "username", where)
    password = None
    if username is not None:
        if not (starttls or implicit_tls):
            raise ConfigurationError(
                f"{where}: username needs starttls = true (a password is never sent in clear)"
            )
        password = environ.get(PASSWORD_ENV)
        if not password:
            raise ConfigurationError(f"{where}: username {username!r} needs {PASSWORD_ENV} set")
    ca_text = _text(table, "ca_file", where)
    ca_file = None
    if ca_text is not None:
        ca_file = Path(ca_text)
        if not ca_file.is_absolute():
            ca_file = workspace.home / ca_file
        if not ca_file.is_file():
            raise ConfigurationError(f"{where}: ca_file {ca_file} is not a file")
    return SmtpConfig(
        host=host,
        port=_number(table, "port", where, 465 if implicit_tls else 587, 1, 65535, whole=True),
        starttls=starttls,
        implicit_tls=implicit_tls,
        sender=sender,
        username=username,
        password=password,
        ca_file=ca_file,
        timeout=_number(table, "timeout", where, 30, 1, 600),
        retries=_number(table, "retries", where, 2, 0, _MAX_RETRIES, whole=True),
        retry_delay=_number(table, "retry_delay", where, 5, 0, _MAX_DELAY),
    )


def _text(table: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise ConfigurationError(f"{where}: {key} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 254:
        raise ConfigurationError(f"{where}: {key} must be text of 1-254 characters")
    if any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{where}: {key} must be one line")
    return value.strip()


def _number(
    table: dict[str, Any],
    key: str,
    where: str,
    default: float,
    low: float,
    high: float,
    *,
    whole: bool = False,
) -> Any:
    value = table.get(key, default)
    allowed = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not allowed or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigurationError(f"{where}: {key} must be {kind} from {low:g} to {high:g}")
    return value
