"""Whether a workspace asks for time-stamps at issue (``[tsa] stamp_at_issue``), read without
loading the time-stamp libraries: ``receipts issue`` asks this every time, and most workspaces
stamp at transmission instead (receipts/tsa/config.py reads and validates the whole table)."""

from __future__ import annotations

import tomllib

from receipts.workspace import CONFIG_NAME, Workspace

__all__ = ["stamp_at_issue_set"]


def stamp_at_issue_set(workspace: Workspace) -> bool:
    """True unless ``[tsa] stamp_at_issue`` is absent or false: any other value (a wrong one
    included, which :func:`receipts.tsa.config.tsa_settings` then refuses) means the table must
    be read whole."""
    try:
        table = tomllib.loads((workspace.home / CONFIG_NAME).read_text("utf-8")).get("tsa")
    except (OSError, tomllib.TOMLDecodeError):
        return True  # tsa_settings says what is wrong with the file
    return isinstance(table, dict) and table.get("stamp_at_issue", False) is not False
