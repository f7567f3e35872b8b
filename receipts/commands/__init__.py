"""The CLI's sub-commands, one module per topic; ``cli.py`` registers them on the group."""

from __future__ import annotations

import click

from receipts.commands import (
    archive_cmds,
    demo,
    issue_cmds,
    ledger_cmds,
    pki_cmds,
    reconcile_cmds,
    render_cmds,
    stats_cmds,
    transmit_cmds,
    verify_cmds,
    workspace_cmds,
)

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Attach every sub-command to the ``receipts`` group."""
    workspace_cmds.register(group)
    archive_cmds.register(group)
    demo.register(group)
    issue_cmds.register(group)
    ledger_cmds.register(group)
    pki_cmds.register(group)
    render_cmds.register(group)
    verify_cmds.register(group)
    reconcile_cmds.register(group)
    transmit_cmds.register(group)
    stats_cmds.register(group)
