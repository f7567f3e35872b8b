"""Groups that import a sub-command only when it is used (click's documented ``LazyGroup``).

A :class:`LazyGroup` knows each of its sub-commands by a :class:`LazyCommand`: the import path
``"module:attribute"`` of the click command and the one-line help shown in the group's command
list. Listing the commands (``receipts --help``) therefore imports none of them; running one
imports its module, which imports whatever it needs at its top. ``tests/test_cli_structure.py``
loads every registered command and checks that the short help kept here is the one click would
show for the real command, so the two cannot drift apart.

This module needs nothing but click: ``cli.py`` imports it before anything else is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

__all__ = ["LazyCommand", "LazyGroup"]


class LazyCommand(NamedTuple):
    """Where a sub-command is defined, and what the group's command list says about it."""

    path: str
    """``"package.module:attribute"`` of the :class:`click.Command` (or group)."""
    short_help: str
    """The command's one-line help: the first sentence of its help text, untruncated."""


class LazyGroup(click.Group):
    """A group whose sub-commands are imported by :meth:`get_command`, not when it is built.

    Sub-commands added the ordinary way (``@group.command``) work as well; the two kinds share
    one sorted list.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})
        """Sub-command name → where it is and its short help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(self.load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def load(self, cmd_name: str) -> click.Command:
        """Import the sub-command ``cmd_name`` from its registered path."""
        module_name, _, attribute = self.lazy_commands[cmd_name].path.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, as :meth:`click.Group.format_commands` writes it, from the short
        help in the registry for commands not imported yet."""
        shown: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
            else:
                # A stand-in carrying only the registry's sentence: click shortens it exactly as
                # it would shorten the real command's help (first sentence, then the width).
                command = click.Command(name, help=self.lazy_commands[name].short_help)
            if not command.hidden:
                shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        rows = [(name, command.get_short_help_str(limit)) for name, command in shown]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
