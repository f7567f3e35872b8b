"""What the ``receipts pki`` commands take and share: the choices and parameter types of their
options, the federation's credentials, and how its keys' passphrases are asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from receipts.commands.runtime import Context
from receipts.pki.ca import Passphrase
from receipts.pki.credentials import Credentials
from receipts.workspace import WorkspaceKind
from signing.errors import PassphraseError
from signing.keys import CA_PASSPHRASE_ENV, KeyAlgorithm, ca_key_passphrase, signing_key_passphrase

__all__ = [
    "ALGORITHMS",
    "EXISTING_FILE",
    "OUTPUT_FILE",
    "REASONS",
    "ReasonChoice",
    "algorithm_option",
    "allow_env_option",
    "ca_passphrase",
    "federation_credentials",
    "signing_passphrase",
    "utc_now",
    "warn",
]

ALGORITHMS = tuple(a.value for a in KeyAlgorithm)
"""The values of ``--algorithm``: :class:`signing.keys.KeyAlgorithm`'s, the default first."""
REASONS = (
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "ca_compromise",
    "unspecified",
)
"""The values of ``--reason``: :class:`signing.crl.RevocationReason`'s spelt with ``_`` (``-`` is
accepted too), in the order ``--help`` lists them, the usual ones first (a test keeps the set
equal to the enum's)."""

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Output(click.Path):
    """A file to write, whose folder must exist: checked before any key is touched."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        assert isinstance(path, Path)  # path_type=Path
        if not path.parent.is_dir():
            self.fail(f"folder {path.parent} does not exist", param, ctx)
        return path


OUTPUT_FILE = _Output()
allow_env_option = click.option(
    "--allow-env-passphrase",
    is_flag=True,
    help="Read the CA key's passphrase from RECEIPTS_CA_PASSPHRASE (unattended use).",
)
algorithm_option = click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Key type.")


class ReasonChoice(click.Choice[str]):
    """A revocation reason; ``key-compromise`` is read as ``key_compromise``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(super().convert(str(value).replace("-", "_"), param, ctx))


def federation_credentials(ctx: Context) -> Credentials:
    """The credentials of the ``--home`` workspace, which must be a federation's."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "admin", action="managing keys and certificates")
    return ctx.credentials(ws)


def utc_now() -> datetime:
    """Now, in UTC: what the commands date certificates, CRLs and revocations from."""
    return datetime.now(UTC)


def _confirming(creds: Credentials) -> Callable[[str], str] | None:
    """The prompt for a key about to be created: typed twice, so a typo cannot lose the key."""
    if creds.prompt is None:
        return None
    return lambda text: str(click.prompt(text, hide_input=True, confirmation_prompt=True, err=True))


def ca_passphrase(creds: Credentials, allow_env: bool) -> Passphrase:
    """The CA key's passphrase, typed (twice for a new key), from the environment only if
    ``allow_env``; with no terminal and no permission, an error that says what to do."""

    def no_terminal(_: str) -> str:
        how = "set" if allow_env else "pass --allow-env-passphrase and set"
        raise PassphraseError(
            f"no passphrase for the CA key {creds.ca_key_path}: type it on a terminal, "
            f"or {how} {CA_PASSPHRASE_ENV}"
        )

    def get(new: bool) -> str:
        prompt = (_confirming(creds) if new else creds.prompt) or no_terminal
        return ca_key_passphrase(prompt, key_path=creds.ca_key_path, allow_env=allow_env)

    return get


def signing_passphrase(creds: Credentials) -> Passphrase:
    """The signing key's passphrase, from the environment or typed (twice for a new key)."""

    def get(new: bool) -> str:
        unlocked = creds.operator_key_passphrase()  # with operators: under their volume key
        if unlocked is not None:
            return unlocked
        prompt = _confirming(creds) if new else creds.prompt
        return signing_key_passphrase(prompt=prompt, key_path=creds.signing_key_path)

    return get


def warn(warnings: Iterable[str]) -> None:
    """Each warning on its own line of stderr, so ``--json`` output stays clean."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
