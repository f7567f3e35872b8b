"""What every sub-command shares: the context from the group options, output, and the one
place that turns errors into one readable line and an exit code (SPEC §7, like pyHanko's
``cli/runtime.py``)."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from receipts.errors import ReceiptError
from receipts.workspace import Workspace

if TYPE_CHECKING:
    from receipts.ledger.database import Database
    from receipts.pki.credentials import Credentials

__all__ = ["Context", "command", "errors_to_exit_codes", "fail_with_findings"]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Context:
    """What the group options set up for every sub-command."""

    home: Path
    """The workspace folder (``--home``)."""
    db_url: str | None
    """The ledger URL (``--db``), None for the workspace's SQLite file."""
    json: bool
    """Machine output."""
    verbosity: int
    """``-v`` count minus ``-q`` count."""

    def workspace(self) -> Workspace:
        """Open the workspace at ``--home``."""
        return Workspace.open(self.home)

    def credentials(self, workspace: Workspace) -> Credentials:
        """The workspace's keys and trust; passphrases are prompted for on a terminal."""
        from receipts.pki.credentials import Credentials

        prompt = _prompt if sys.stdin.isatty() else None
        return Credentials(workspace, prompt)

    def database(self, workspace: Workspace) -> Database:
        """The workspace's ledger (``--db`` or its SQLite file), migrated to the newest schema."""
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


class _NullBar:
    def __init__(self, iterable: Any) -> None:
        self._iterable = iterable

    def __enter__(self) -> Any:
        return self._iterable

    def __exit__(self, *exc: object) -> None:
        return None


def _prompt(text: str) -> str:
    return str(click.prompt(text, hide_input=True, err=True))


def fail_with_findings() -> NoReturn:
    """Exit 1: the command worked and found problems, which it has printed."""
    sys.exit(1)


def _fail(message: str, code: int, log_path: Path | None) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if log_path is not None:
        click.echo(f"(details in {log_path})", err=True)
    sys.exit(code)


def _log_traceback(home: Path) -> Path | None:
    """Append the current traceback to the workspace log; never show it to the user."""
    logs = home / "logs"
    if not logs.is_dir():
        return None
    target = logs / "receipts.log"
    try:
        with target.open("a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
    except OSError:
        return None
    return target


@contextmanager
def errors_to_exit_codes(home: Path) -> Iterator[None]:
    """Exit 1 for problems found, 2 for bad input, 3 when the environment failed."""
    from signing.errors import SigningError

    try:
        yield
    except (ReceiptError, SigningError) as exc:
        _log_traceback(home)
        _fail(str(exc), exc.exit_code, None)
    except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}", 3, _log_traceback(home))
    except Exception as exc:
        what = "database" if _is_database_error(exc) else f"unexpected {type(exc).__name__}"
        _fail(f"{what}: {_first_line(exc)}", 3, _log_traceback(home))


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def command(group: click.Group, name: str, **kwargs: Any) -> Callable[[_F], _F]:
    """Register a sub-command that receives the :class:`Context` first and runs under
    :func:`errors_to_exit_codes`."""

    def wrap(func: _F) -> _F:
        @functools.wraps(func)
        def run(*args: Any, **kw: Any) -> Any:
            ctx = click.get_current_context().find_object(Context)
            assert ctx is not None
            with errors_to_exit_codes(ctx.home):
                return func(ctx, *args, **kw)

        group.command(name, **kwargs)(run)
        return func

    return wrap
