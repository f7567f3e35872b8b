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
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from receipts.commands.root import GroupOptions
from receipts.workspace import CONFIG_NAME, Workspace, default_home

if TYPE_CHECKING:
    from receipts.ledger.database import Database
    from receipts.pki.credentials import Credentials

__all__ = ["Context", "with_context"]

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

    @classmethod
    def from_options(cls, options: GroupOptions) -> Context:
        """The context of the options the root group parsed."""
        return cls(
            options.home or default_home(),
            options.db_url,
            options.json,
            options.verbosity,
            options.allow_insecure_permissions,
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
        return Credentials(
            workspace,
            prompt,
            allow_insecure_permissions=self.allow_insecure_permissions,
            notify=_note,
        )

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


def _prompt(text: str) -> str:
    return str(click.prompt(text, hide_input=True, err=True))
