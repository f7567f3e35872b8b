"""What the ``receipts`` root group does for every command: it keeps the group options, loads
sub-commands lazily, and is the one place that turns errors into exit codes.

The exit codes (docs/operations.md): 0 done; 1 the command worked and found problems, which it
printed (:func:`fail_with_findings`); 2 bad input: a usage error, an unreadable file, a refused
request (:class:`receipts.errors.ReceiptError` subclasses carry their ``exit_code``); 3 the
environment failed: the file system, the database, a bug. The user sees one ``error:`` line;
the traceback goes to the workspace log (``logs/receipts.log``), never to the terminal.

Like :mod:`receipts.commands.lazy`, this module is imported by ``cli.py`` before any command, so
it imports nothing heavier than click and the two error roots.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from receipts.commands.lazy import LazyGroup
from receipts.errors import ReceiptError
from signing.errors import SigningError

__all__ = [
    "FINDINGS",
    "GroupOptions",
    "RootGroup",
    "errors_to_exit_codes",
    "fail_with_findings",
]

FINDINGS = 1
"""Exit code of a command that worked and found problems."""
_ENVIRONMENT = 3


@dataclass(frozen=True)
class GroupOptions:
    """The root group's options, as typed; every command's :class:`~receipts.commands.runtime.
    Context` is made from them."""

    home: Path | None
    """``--home``; None for ``RECEIPTS_HOME`` or ``./.receipts``."""
    db_url: str | None
    """``--db`` (or ``RECEIPTS_DB``); None for the workspace's SQLite file."""
    json: bool
    """``--json``: machine output."""
    verbosity: int
    """``-v`` count minus ``-q`` count."""
    allow_insecure_permissions: bool = False
    """``--allow-insecure-permissions``: load key files other users may read or write."""
    operator: str | None = None
    """``--operator`` (or ``RECEIPTS_OPERATOR``): who acts, in a workspace with operators."""


class RootGroup(LazyGroup):
    """The ``receipts`` group: lazy, and every command it runs runs under
    :func:`errors_to_exit_codes`."""

    def invoke(self, ctx: click.Context) -> Any:
        with errors_to_exit_codes(lambda: _log_folder(ctx)):
            return super().invoke(ctx)


def fail_with_findings() -> NoReturn:
    """Exit 1: the command worked and found problems, which it has printed."""
    sys.exit(FINDINGS)


@contextmanager
def errors_to_exit_codes(log_folder: Callable[[], Path | None]) -> Iterator[None]:
    """Exit 1 for problems found, 2 for bad input, 3 when the environment failed.

    ``log_folder`` is called, only when an error is reported, for the folder of the workspace
    log (None when there is none): the workspace is known once the root options are parsed.
    """
    try:
        yield
    except (ReceiptError, SigningError) as exc:
        _log_traceback(log_folder())
        _fail(str(exc), exc.exit_code, None)
    except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}", _ENVIRONMENT, _log_traceback(log_folder()))
    except Exception as exc:
        what = "database" if _is_database_error(exc) else f"unexpected {type(exc).__name__}"
        _fail(f"{what}: {_first_line(exc)}", _ENVIRONMENT, _log_traceback(log_folder()))


def _log_folder(ctx: click.Context) -> Path | None:
    options = ctx.find_object(GroupOptions)
    if options is None:
        return None
    # Imported here, when an error is being reported, not at the top: cli.py imports this module,
    # and `receipts --help` must not load the workspace module and the domain model behind it.
    from receipts.workspace import default_home

    return (options.home or default_home()) / "logs"


def _fail(message: str, code: int, log_path: Path | None) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if log_path is not None:
        click.echo(f"(details in {log_path})", err=True)
    sys.exit(code)


def _log_traceback(logs: Path | None) -> Path | None:
    """Append the current traceback to the workspace log; never show it to the user."""
    if logs is None or not logs.is_dir():
        return None
    target = logs / "receipts.log"
    try:
        # 0600 whatever the umask: a traceback quotes the names and amounts it failed on.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(fd, "a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
    except OSError:
        return None
    return target


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
