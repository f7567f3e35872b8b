"""The shape of the command line: every command is registered lazily with its real short help,
every command module is reachable, ``--help`` loads no command module and no heavy library,
and errors become exit codes in one place (the root group)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import receipts.commands
from cli import COMMANDS, main
from receipts.commands.lazy import LazyCommand, LazyGroup
from receipts.commands.root import GroupOptions, RootGroup
from receipts.commands.spreadsheet import spreadsheet_csv
from receipts.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]


def _walk(
    group: click.Group, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, (*path, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


def _lazy_groups() -> list[object]:
    """The root group and every lazy sub-group, as test parameters named by their path."""
    groups: list[tuple[tuple[str, ...], click.Command]] = [((), main), *_walk(main, ())]
    return [
        pytest.param(group, id=" ".join(("receipts", *path)))
        for path, group in groups
        if isinstance(group, LazyGroup)
    ]


def _all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    return list(_walk(main, ()))


def test_the_root_is_a_lazy_group_of_the_registry() -> None:
    assert isinstance(main, RootGroup)
    assert main.lazy_commands == COMMANDS


@pytest.mark.parametrize("group", _lazy_groups())
def test_registered_short_help_is_the_commands_own(group: LazyGroup) -> None:
    assert group.lazy_commands
    for name, entry in group.lazy_commands.items():
        command = group.load(name)
        assert command.name == name
        # What click would show with unlimited width: the first sentence of the help text.
        assert entry.short_help == command.get_short_help_str(limit=10_000), name


@pytest.mark.parametrize("group", _lazy_groups())
@pytest.mark.parametrize("width", [50, 80, 100, 200])
def test_the_command_list_reads_as_clicks_own(group: LazyGroup, width: int) -> None:
    """The list written from the registry, nothing imported, equals the list click writes
    from the loaded commands, truncation included."""
    fresh = LazyGroup(group.name, lazy_commands=group.lazy_commands)
    loaded = click.Group(
        group.name, commands={name: group.load(name) for name in group.lazy_commands}
    )
    texts = []
    for shown in (fresh, loaded):
        formatter = click.HelpFormatter(width=width)
        shown.format_commands(click.Context(shown), formatter)
        texts.append(formatter.getvalue())
    assert texts[0] == texts[1]
    assert all(name in texts[0] for name in group.lazy_commands)
    assert fresh.commands == {}  # the listing imported nothing


def test_every_command_module_is_reachable_and_every_command_registered() -> None:
    reachable = {command.callback.__module__ for _, command in _all_commands() if command.callback}
    modules = {
        f"receipts.commands.{info.name}"
        for info in pkgutil.iter_modules(receipts.commands.__path__)
        if info.name.endswith("_cmds")
    }
    assert modules <= reachable, modules - reachable
    registered = {id(command) for _, command in _all_commands()}
    for name in sorted(modules):
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            callback = value.callback if isinstance(value, click.Command) else None
            if callback is not None and callback.__module__ == name:
                assert id(value) in registered, f"{name}:{attribute} is not reachable"


def test_every_command_has_help_and_an_example() -> None:
    for path, command in _all_commands():
        assert command.get_short_help_str(limit=10_000), path
        if not isinstance(command, click.Group):
            assert command.epilog and "Example" in command.epilog, path


_LOADED = """
import json, sys
import cli
try:
    cli.main({argv!r}, prog_name="receipts", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(argv: list[str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _LOADED.format(argv=argv)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


_HEAVY = (
    "sqlalchemy",
    "alembic",
    "lxml",
    "cryptography",
    "signxml",
    "reportlab",
    "receipts.domain",
    "receipts.ledger",
    "receipts.workspace",
)


def _loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_help_loads_no_command_module_and_no_heavy_library() -> None:
    modules = _modules_after(["--help"])
    assert [h for h in _HEAVY if _loaded(modules, h)] == []
    commands = {m for m in modules if m.startswith("receipts.commands.")}
    assert commands == {"receipts.commands.lazy", "receipts.commands.root"}


def test_help_of_one_command_loads_that_command_module_only() -> None:
    modules = _modules_after(["issue", "--help"])
    assert {m for m in modules if m.endswith("_cmds")} == {"receipts.commands.issue_cmds"}
    modules = _modules_after(["pki", "--help"])
    assert {m for m in modules if m.endswith("_cmds")} == {"receipts.commands.pki_cmds"}
    assert not _loaded(modules, "cryptography")


def test_python_cli_py_runs_the_command_line() -> None:
    out = subprocess.run(
        [sys.executable, "cli.py", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert (out.returncode, out.stdout) == (0, "receipts, version 0.1.0\n")


# --- one place for exit codes: the root group ----------------------------------------------


@click.command("refuse")
def _refuse() -> None:
    """Refuse, as a domain error does."""
    raise InvalidInput("that will not do")


@click.command("crash")
def _crash() -> None:
    """Fail as a bug does."""
    raise KeyError("no such thing")


@click.command("disk")
def _disk() -> None:
    """Fail as the file system does."""
    raise PermissionError(13, "Permission denied", "/nowhere/file")


@click.command("options")
def _options() -> None:
    """Show what the root group passed on."""
    options = click.get_current_context().find_object(GroupOptions)
    click.echo(repr(options))


def _test_root() -> RootGroup:
    here = "tests.test_cli_structure:"
    return RootGroup(
        "receipts",
        params=main.params,
        callback=main.callback,
        lazy_commands={
            name: LazyCommand(here + attribute, "")
            for name, attribute in (
                ("refuse", "_refuse"),
                ("crash", "_crash"),
                ("disk", "_disk"),
                ("options", "_options"),
            )
        },
    )


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("refuse", 2, "error: that will not do"),
        ("crash", 3, "error: unexpected KeyError: 'no such thing'"),
        ("disk", 3, "error: Permission denied: /nowhere/file"),
    ],
)
def test_the_root_group_turns_errors_into_exit_codes(
    tmp_path: Path, name: str, code: int, message: str
) -> None:
    (tmp_path / "logs").mkdir()
    result = CliRunner().invoke(_test_root(), ["--home", str(tmp_path), name])
    assert result.exit_code == code
    lines = result.stderr.splitlines()
    assert lines[0] == message
    assert "Traceback" not in result.output + result.stderr
    log = (tmp_path / "logs" / "receipts.log").read_text(encoding="utf-8")
    assert "Traceback" in log
    if code == 3:  # the environment failed: the user is told where the details are
        assert lines[1:] == [f"(details in {tmp_path / 'logs' / 'receipts.log'})"]
    else:
        assert lines[1:] == []


def test_the_root_group_passes_its_options_on(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _test_root(), ["--home", str(tmp_path), "--json", "-vv", "-q", "options"]
    )
    assert result.exit_code == 0, result.output
    expected = GroupOptions(home=tmp_path, db_url=None, json=True, verbosity=1)
    assert result.stdout.strip() == repr(expected)


# --- the spreadsheet CSV files commands write -----------------------------------------------


def test_spreadsheet_csv_is_utf8_with_bom_and_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), spreadsheet_csv(target, ["名称"]) as sheet:
        sheet.row(["部分"])
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]
    with spreadsheet_csv(target, ["名称", "金额"], numeric=["金额"]) as sheet:
        sheet.row(["工会", "-12.50"])
    assert target.read_bytes() == "\ufeff名称,金额\r\n工会,-12.50\r\n".encode()
