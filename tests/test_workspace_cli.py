"""Workspaces and the CLI skeleton: init, refusals, exit codes, help, version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from receipts.domain.enums import Tier
from receipts.errors import ConfigurationError, WorkspaceError
from receipts.workspace import Workspace, WorkspaceKind


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_federation(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    code, out, err = run("--home", str(home), "init", "--org", "640100", "--name", "银川市总工会")
    assert (code, err) == (0, "")
    assert out == f"created federation workspace {home} for 银川市总工会 (640100)\n"
    doc = tomllib.loads((home / "receipts.toml").read_text("utf-8"))
    assert doc["workspace"] == {
        "kind": "federation",
        "name": "银川市总工会",
        "org_code": "640100",
        "tier": "city",
        "timezone": "Asia/Shanghai",
    }
    for sub in ("keys", "certs", "trust", "logs"):
        assert (home / sub).is_dir()
    assert (home / "keys").stat().st_mode & 0o077 == 0
    ws = Workspace.open(home)
    assert ws.kind is WorkspaceKind.FEDERATION
    assert ws.config.organisation().tier is Tier.CITY


def test_second_init_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    name = "宁夏回族自治区总工会"
    assert run("--home", str(home), "init", "--org", "640000", "--name", name)[0] == 0
    before = (home / "receipts.toml").read_bytes()
    code, _, err = run("--home", str(home), "init", "--org", "650000", "--name", "新疆")
    assert code == 2
    assert err == f"error: {home} is already a workspace; refusing to initialise it again\n"
    assert (home / "receipts.toml").read_bytes() == before


def test_init_payer(tmp_path: Path) -> None:
    home = tmp_path / "acme"
    args = [
        "--home",
        str(home),
        "init",
        "--payer",
        "--name",
        "宁夏贺兰山实业有限公司",
        "--uscc",
        "91640100MA7600001J",
    ]
    code, _, err = run(*args)
    assert (code, err) == (
        2,
        "error: no passphrase for the signing key: set RECEIPTS_KEY_PASSPHRASE\n",
    )
    assert not home.exists()
    code, _, err = run(*args, env={"RECEIPTS_KEY_PASSPHRASE": "s3cret passphrase"})
    assert (code, err) == (0, "")
    assert (home / "certs" / "ledger.pem").is_file()
    ws = Workspace.open(home)
    assert ws.kind is WorkspaceKind.PAYER
    with pytest.raises(WorkspaceError, match="payer workspace"):
        ws.require(WorkspaceKind.FEDERATION)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--org", "990100", "--name", "x"],
            "organisation code '990100': '99' is not a province-level code",
        ),
        (
            ["--org", "640100", "--name", "x", "--tier", "provincial"],
            "organisation 640100 is city-tier, not provincial",
        ),
        (["--name", "x"], "--org is required for a federation workspace (or use --payer)"),
        (["--payer", "--name", "x"], "a payer workspace needs the payer's USCC"),
        (
            ["--payer", "--name", "x", "--uscc", "91110000600037341K"],
            "USCC '91110000600037341K' has a wrong check character (expected L)",
        ),
        (
            ["--org", "640100", "--name", "x", "--timezone", "Mars/Olympus"],
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_bad_init_input(tmp_path: Path, args: list[str], message: str) -> None:
    home = tmp_path / "ws"
    code, out, err = run("--home", str(home), "init", *args)
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert not home.exists()


def test_broken_configuration_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    run("--home", str(home), "init", "--org", "640100", "--name", "银川市总工会")
    bad = '[workspace]\nkind = "federation"\nname = "x"\ncolour = 1\n'
    (home / "receipts.toml").write_text(bad)
    with pytest.raises(ConfigurationError, match="unknown configuration keys: colour"):
        Workspace.open(home)


def test_open_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is not a workspace"):
        Workspace.open(tmp_path)


def test_help_and_version() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Example:" in out and "init" in out
    code, out, _ = run("init", "--help")
    assert code == 0 and "Examples:" in out
    code, out, _ = run("--version")
    assert (code, out) == (0, "receipts, version 0.1.0\n")


def test_unknown_command_is_usage_error() -> None:
    assert run("frobnicate")[0] == 2


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, cli\n"
        "heavy = [m for m in ('reportlab', 'signxml', 'sqlalchemy', 'pikepdf', 'pyhanko')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
