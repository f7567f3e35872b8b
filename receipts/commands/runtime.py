"""What every command receives: a :class:`Context` made from the root group's options, with the
workspace, its ledger and its keys one call away, and the output helpers (human, ``--json``,
progress bars).

A command asks for it with :func:`with_context`::

    @click.command("show")
    @click.argument("code")
    @with_context
    def show(ctx: Context, code: str) -> None: ...

Errors need no handling here: the root group runs every command under
:func:`receipts.commands.root.errors_to_exit_codes`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from receipts.commands.root import GroupOptions
from receipts.workspace import CONFIG_NAME, Workspace, default_home

if TYPE_CHECKING:
    from receipts.ledger.database import Database
    from receipts.pki.credentials import Credentials
    from receipts.pki.operator_auth import Authenticated
    from receipts.pki.operators import Operator

__all__ = ["SECRET_ENV", "Context", "with_context"]

SECRET_ENV = "RECEIPTS_OPERATOR_SECRET"  # noqa: S105 - a variable's name
"""The operator's secret for batch jobs (docs/operations.md); people type it at the prompt."""

_R = TypeVar("_R")


@dataclass
class Context:
    """What the group options set up for a command."""

    home: Path
    """The workspace folder (``--home``, ``RECEIPTS_HOME`` or ``./.receipts``)."""
    db_url: str | None
    """The ledger URL (``--db``), None for the workspace's SQLite file."""
    json: bool
    """Machine output (``--json``; a command's own ``--json`` sets it too)."""
    verbosity: int
    """``-v`` count minus ``-q`` count."""
    allow_insecure_permissions: bool = False
    """``--allow-insecure-permissions``: key files open to other users are loaded anyway."""
    operator_name: str | None = None
    """``--operator`` (or ``RECEIPTS_OPERATOR``): who acts, in a workspace with operators."""
    _auth: dict[Path, Authenticated | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_options(cls, options: GroupOptions) -> Context:
        """The context of the options the root group parsed."""
        return cls(
            options.home or default_home(),
            options.db_url,
            options.json,
            options.verbosity,
            options.allow_insecure_permissions,
            options.operator,
        )

    def has_workspace(self) -> bool:
        """Whether ``--home`` holds a workspace (some commands also work without one)."""
        return (self.home / CONFIG_NAME).is_file()

    def workspace(self) -> Workspace:
        """Open the workspace at ``--home``."""
        return Workspace.open(self.home)

    # The ledger (SQLAlchemy, Alembic) and the keys (cryptography, signxml) are imported by the
    # two methods below, not at the top: every command imports this module, and many of them
    # (offline verification, rendering, init) need neither; loading both costs a quarter second.

    def credentials(self, workspace: Workspace) -> Credentials:
        """The workspace's keys and trust; passphrases are prompted for on a terminal."""
        from receipts.pki.credentials import Credentials

        prompt = _prompt if sys.stdin.isatty() else None
        creds = Credentials(
            workspace,
            prompt,
            allow_insecure_permissions=self.allow_insecure_permissions,
            notify=_note,
        )
        creds.key_unlock = lambda: self._key_passphrase(workspace)
        return creds

    def database(self, workspace: Workspace) -> Database:
        """The workspace's ledger (``--db`` or its SQLite file), migrated to the newest schema."""
        from receipts.ledger.database import Database, default_url
        from receipts.ledger.migrate import open_ledger
        from receipts.pki.anchor_file import WorkspaceAnchor

        db = Database(self.db_url or default_url(workspace.home))
        open_ledger(db, workspace.ledger_owner)
        # Writes keep the ledger's signed anchor in the workspace folder, and refuse a ledger
        # behind it (docs/security.md).
        db.anchor = WorkspaceAnchor(workspace)
        # Every write records the authenticated operator; without one (or as an auditor) a
        # workspace with operators refuses it (docs/security.md, "Operators and key slots").
        db.authorise = lambda: self._writer(workspace, db)
        return db

    def operator(self, workspace: Workspace) -> Operator | None:
        """The authenticated operator (``--operator``, secret prompted or from
        ``RECEIPTS_OPERATOR_SECRET``); None in a workspace without operators (legacy mode).

        Authenticates once per command; refuses (:class:`receipts.errors.NotPermitted`) an
        unknown or disabled operator, a wrong secret, a slot the ledger did not pin, and a
        workspace with operators when no ``--operator`` was given.
        """
        auth = self._authenticated(workspace, None)
        return None if auth is None else auth.operator

    def require(self, workspace: Workspace, *roles: str, action: str) -> Operator | None:
        """The authenticated operator, refused unless one of ``roles`` (``"clerk"``...) does
        ``action`` (docs/security.md, the command → role matrix); None in legacy mode."""
        from receipts.domain.enums import OperatorRole
        from receipts.pki.operators import require_role

        operator = self.operator(workspace)
        require_role(operator, *(OperatorRole(r) for r in roles), action=action)
        return operator

    def authenticated(self, workspace: Workspace) -> Authenticated | None:
        """Like :meth:`operator`, with the unwrapped volume key (for ``operator add``)."""
        return self._authenticated(workspace, None)

    def _authenticated(self, workspace: Workspace, db: Database | None) -> Authenticated | None:
        key = workspace.home.resolve()
        if key not in self._auth:
            from receipts.pki.operator_auth import authenticate

            ledger = db if db is not None else self._ledger(workspace)
            try:
                self._auth[key] = authenticate(
                    ledger, workspace.keys_dir, self.operator_name, _operator_secret
                )
            finally:
                if db is None:
                    ledger.dispose()
        return self._auth[key]

    def _writer(self, workspace: Workspace, db: Database) -> str | None:
        from receipts.pki.operator_auth import writer_of

        return writer_of(self._authenticated(workspace, db))

    def _key_passphrase(self, workspace: Workspace) -> str | None:
        """The signing key's passphrase from the operator's slot; None in legacy mode (the
        workspace passphrase then applies, as before operators)."""
        from receipts.pki.key_slots import slots_dir

        if not slots_dir(workspace.keys_dir).is_dir():
            return None
        auth = self._authenticated(workspace, None)
        return None if auth is None else auth.key_passphrase()

    def _ledger(self, workspace: Workspace) -> Database:
        from receipts.ledger.database import Database, default_url
        from receipts.ledger.migrate import open_ledger

        db = Database(self.db_url or default_url(workspace.home))
        open_ledger(db, workspace.ledger_owner)
        return db

    def echo(self, text: str = "") -> None:
        """Human output (suppressed by ``-q`` and by ``--json``)."""
        if self.verbosity >= 0 and not self.json:
            click.echo(text)

    def emit(self, data: Any, human: Callable[[], str]) -> None:
        """``--json`` prints ``data``; otherwise the human rendering."""
        if self.json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        elif self.verbosity >= 0:
            click.echo(human())

    def progress(self, iterable: Any, length: int | None = None, label: str = "") -> Any:
        """A progress bar on a terminal, the plain iterable elsewhere."""
        if sys.stderr.isatty() and not self.json and self.verbosity >= 0:
            return click.progressbar(iterable, length=length, label=label, file=sys.stderr)
        return _NullBar(iterable)


def with_context(func: Callable[..., _R]) -> Callable[..., _R]:
    """Call the command with a :class:`Context` first, made from the root group's options."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> _R:
        options = click.get_current_context().find_object(GroupOptions)
        if options is None:
            raise RuntimeError(f"{func.__name__} runs only under the receipts root group")
        return func(Context.from_options(options), *args, **kwargs)

    return run


class _NullBar:
    def __init__(self, iterable: Any) -> None:
        self._iterable = iterable

    def __enter__(self) -> Any:
        return self._iterable

    def __exit__(self, *exc: object) -> None:
        return None


def _note(text: str) -> None:
    """A note on stderr (a key re-encrypted on load), so ``--json`` output stays clean."""
    click.echo(f"note: {text}", err=True)


def _operator_secret(name: str) -> str:
    """The operator's own secret: typed, hidden; from the environment only without a terminal."""
    if sys.stdin.isatty():
        return _prompt(f"Secret of operator {name}")
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return secret
    from receipts.errors import NotPermitted

    raise NotPermitted(
        f"no secret for operator {name}: type it on a terminal, or set {SECRET_ENV} (batch jobs)"
    )


def _prompt(text: str) -> str:
    return str(click.prompt(text, hide_input=True, err=True))
