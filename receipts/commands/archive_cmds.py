"""``receipts archive``: packages of closed periods, kept 30 years. The group and what its
commands share; :mod:`receipts.commands.archive_ledger_cmds` creates and restores (it needs the
ledger), :mod:`receipts.commands.archive_verify_cmds` verifies (offline, for anyone)."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.commands.lazy import LazyCommand, LazyGroup

__all__ = ["ARCHIVES", "archive"]

_C = "receipts.commands."

ARCHIVES = click.argument(
    "archives",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
"""The archive files a command reads (one or more)."""


@click.group(
    "archive",
    cls=LazyGroup,
    lazy_commands={
        "create": LazyCommand(
            _C + "archive_ledger_cmds:archive_create",
            "Package a closed period for long-term keeping (30 years).",
        ),
        "restore": LazyCommand(
            _C + "archive_ledger_cmds:archive_restore",
            "Rebuild a federation's ledger from its archives (main and supplementary).",
        ),
        "verify": LazyCommand(
            _C + "archive_verify_cmds:archive_verify",
            "Fixity of every file, the manifest's signature, every receipt's signature.",
        ),
    },
)
def archive() -> None:
    """Archive packages of closed periods (归档): create, verify, restore."""
