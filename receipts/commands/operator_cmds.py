"""``receipts operator add | list | disable``: the named operators of a workspace and their roles
(docs/operations.md, "Operators"; docs/security.md, "Operators and key slots")."""

from __future__ import annotations

import os
import sys

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted

__all__ = [
    "NEW_SECRET_ENV",
    "operator",
    "operator_add",
    "operator_disable",
    "operator_list",
    "operator_secret",
]

NEW_SECRET_ENV = "RECEIPTS_NEW_OPERATOR_SECRET"  # noqa: S105 - a variable's name
"""The new operator's secret when no terminal is attached (scripted set-up, tests)."""


@click.group("operator")
def operator() -> None:
    """Named operators and their roles (clerk, reviewer, auditor, admin)."""


@operator.command(
    "add",
    epilog="\b\nExamples:\n  receipts operator add 李静 --role admin      (the first: with the "
    "workspace passphrase)\n  receipts --operator 李静 operator add 张晓梅 --role clerk",
)
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in OperatorRole]),
    help="clerk: issue, render, request reversals; reviewer: approve, close periods; "
    "auditor: read and verify only; admin: PKI, stock, operators.",
)
@with_context
def operator_add(ctx: Context, name: str, role: str) -> None:
    """Add an operator; their own secret is typed twice (hidden). The first operator of a
    workspace must be an admin and is added with the workspace passphrase, which from then on
    no longer opens the signing key."""
    from receipts.pki.operator_admin import add

    ws = ctx.workspace()
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    actor = ctx.authenticated(ws)
    added = add(
        db,
        creds,
        actor,
        name,
        OperatorRole(role),
        lambda: _new_secret(name),
        creds.legacy_passphrase,
    )
    note = " (the workspace passphrase no longer opens the signing key)" if added.first else ""
    ctx.emit(
        {
            "name": added.name,
            "role": added.role.value,
            "slot": str(added.slot),
            "first": added.first,
        },
        lambda: f"added {added.name} as {added.role.value}; key slot {added.slot}{note}",
    )


@operator.command("list", epilog="\b\nExample:\n  receipts operator list")
@with_context
def operator_list(ctx: Context) -> None:
    """Every operator the ledger knows, with role and state."""
    from receipts.pki.key_slots import slot_path
    from receipts.pki.operators import list_operators

    ws = ctx.workspace()
    with ctx.database(ws).read() as session:
        operators = list_operators(session)
    rows = [
        [
            o.name,
            o.role.value,
            "active" if o.active else "disabled",
            "yes" if slot_path(ws.keys_dir, o.name).is_file() else "no",
        ]
        for o in operators
    ]
    headers = ["name", "role", "state", "slot"]
    ctx.emit(
        [dict(zip(headers, r, strict=True)) for r in rows],
        lambda: format_table(headers, rows) if rows else "no operators (legacy mode)",
    )


@operator.command(
    "disable", epilog="\b\nExample:\n  receipts --operator 李静 operator disable 王芳"
)
@click.argument("name")
@with_context
def operator_disable(ctx: Context, name: str) -> None:
    """Disable an operator (an admin's act): recorded in the ledger, their key slot deleted."""
    from receipts.pki.operator_admin import disable

    ws = ctx.workspace()
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    removed = disable(db, creds, ctx.authenticated(ws), name)
    ctx.emit(
        {"name": name, "disabled": True, "slot_removed": removed},
        lambda: f"disabled {name}" + ("; key slot removed" if removed else ""),
    )


@operator.command("secret", epilog="\b\nExample:\n  receipts --operator 张晓梅 operator secret")
@with_context
def operator_secret(ctx: Context) -> None:
    """Change your own secret (typed twice, hidden): a new key slot, recorded in the ledger.
    An auditor, who never writes the ledger, is re-added by an admin under a new name."""
    from receipts.pki.operator_admin import change_secret

    ws = ctx.workspace()
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    actor = ctx.authenticated(ws)
    path = change_secret(
        db, creds, actor, lambda: _new_secret(actor.operator.name if actor else "")
    )
    ctx.emit({"slot": str(path)}, lambda: f"new secret set; key slot {path}")


def _new_secret(name: str) -> str:
    if sys.stdin.isatty():
        return str(
            click.prompt(
                f"New secret of operator {name}",
                hide_input=True,
                confirmation_prompt=True,
                err=True,
            )
        )
    secret = os.environ.get(NEW_SECRET_ENV)
    if not secret:
        raise NotPermitted(
            f"no secret for the new operator {name}: type it on a terminal, or set {NEW_SECRET_ENV}"
        )
    return secret
