"""``receipts pki rekey``: change a key file's passphrase (docs/operations.md, "Keys").

Loading a key encrypted with the weaker parameters of earlier versions already re-encrypts it
with today's, keeping its passphrase (:func:`receipts.pki.keyfile.load_key_file`); this command
is for a new passphrase: a person leaving, a passphrase that fails today's policy, a suspicion.
The key itself stays the same, so its certificate stays valid.
"""

from __future__ import annotations

import os

import click

from receipts.commands.pki_options import allow_env_option
from receipts.commands.runtime import Context, with_context
from receipts.errors import WorkspaceError
from receipts.pki.keyfile import change_passphrase
from receipts.workspace import WorkspaceKind
from signing.errors import PassphraseError
from signing.keys import ca_key_passphrase, signing_key_passphrase
from signing.pkcs8 import KDF_ITERATIONS

__all__ = ["NEW_PASSPHRASE_ENV", "rekey"]

_OPERATORS_KEY = (
    "the signing key opens with the operators' key slots, not a passphrase: each operator "
    "changes their own secret ('operator secret')"
)
NEW_PASSPHRASE_ENV = "RECEIPTS_NEW_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
"""Where an unattended ``pki rekey`` reads the new passphrase (for a CA key only with
``--allow-env-passphrase``)."""

_EXAMPLES = """\b
Examples:
  receipts --home ./yinchuan pki rekey          (the signing key, or a payer's ledger key)
  receipts --home ./ningxia pki rekey --ca      (the CA key)"""


@click.command("rekey", epilog=_EXAMPLES)
@click.option("--ca", "as_ca", is_flag=True, help="The CA key instead of the signing key.")
@allow_env_option
@with_context
def rekey(ctx: Context, as_ca: bool, allow_env_passphrase: bool) -> None:
    """Change a key's passphrase (and re-encrypt it with today's parameters)."""
    workspace = ctx.workspace()
    if as_ca:
        workspace.require(WorkspaceKind.FEDERATION)
    ctx.require(workspace, "admin", action="changing a key's passphrase")
    creds = ctx.credentials(workspace)
    if not as_ca and creds.operator_key_passphrase() is not None:
        raise WorkspaceError(_OPERATORS_KEY)
    path = creds.ca_key_path if as_ca else creds.signing_key_path
    if not path.is_file():
        raise WorkspaceError(f"{workspace.home} has no key {path} to rekey")

    def missing(_: str) -> str:
        raise PassphraseError(f"no passphrase for {path}: type it on a terminal")

    if as_ca:
        old = ca_key_passphrase(
            creds.prompt or missing, key_path=path, allow_env=allow_env_passphrase
        )
    else:
        old = signing_key_passphrase(prompt=creds.prompt, key_path=path)
    new = _new_passphrase(creds.prompt is not None, allow_env=allow_env_passphrase or not as_ca)
    change_passphrase(
        path,
        old,
        new,
        refuse=creds.refused_passphrases(),
        allow_insecure=creds.allow_insecure_permissions,
    )
    ctx.emit(
        {"key": str(path), "kdf": "pbkdf2-hmac-sha256", "iterations": KDF_ITERATIONS},
        lambda: (
            f"re-encrypted {path} with the new passphrase "
            f"(PBKDF2-HMAC-SHA256, {KDF_ITERATIONS:,} iterations)"
        ),
    )


def _new_passphrase(terminal: bool, *, allow_env: bool) -> str:
    """The new passphrase: from ``RECEIPTS_NEW_KEY_PASSPHRASE`` when allowed, else typed twice."""
    value = os.environ.get(NEW_PASSPHRASE_ENV) if allow_env else None
    if value:
        return value
    if not terminal:
        raise PassphraseError(
            f"no new passphrase: type it on a terminal, or set {NEW_PASSPHRASE_ENV}"
        )
    typed = click.prompt(
        "New passphrase", hide_input=True, confirmation_prompt=True, err=True, default=""
    )
    if not typed:
        raise PassphraseError("an empty new passphrase was given")
    return str(typed)
