"""A federation workspace with named operators (docs/operations.md, "Operators"), and running
commands as one of them with their own secret."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from cli import main
from tests.support.workspaces import ENV, federation

__all__ = ["SECRETS", "as_operator", "with_operators"]

SECRETS = {
    "李静": "admin secret of li jing",
    "张晓梅": "clerk secret of zhang xiaomei",
    "刘洋": "clerk secret of liu yang",
    "李建国": "reviewer secret of li jianguo",
    "王芳": "auditor secret of wang fang",
}
ROLES = {
    "李静": "admin",
    "张晓梅": "clerk",
    "刘洋": "clerk",
    "李建国": "reviewer",
    "王芳": "auditor",
}


def as_operator(
    home: Path,
    name: str | None,
    *args: str,
    secret: str | None = None,
    db: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """``receipts --home HOME [--operator NAME] ARGS`` with NAME's secret in the environment
    (as a batch job would have it); the workspace passphrase is there too, as before."""
    prefix = ["--home", str(home)] + (["--db", db] if db else [])
    if name is not None:
        prefix += ["--operator", name]
    environment = dict(ENV)
    if name is not None:
        environment["RECEIPTS_OPERATOR_SECRET"] = secret or SECRETS.get(name, "no secret")
    environment.update(env or {})
    return CliRunner(env=environment).invoke(main, [*prefix, *args], catch_exceptions=False)


def add_operator(home: Path, by: str | None, name: str, role: str, db: str | None = None) -> Result:
    """``operator add NAME --role ROLE`` by ``by`` (None: the first, with the passphrase)."""
    new = {"RECEIPTS_NEW_OPERATOR_SECRET": SECRETS.get(name, f"new secret of {name}")}
    return as_operator(home, by, "operator", "add", name, "--role", role, db=db, env=new)


def with_operators(
    home: Path, org: str = "640100", db: str | None = None, names: tuple[str, ...] = tuple(ROLES)
) -> Path:
    """A federation workspace of ``org`` whose operators are ``names`` (李静 the admin first)."""
    federation(home, org)
    for name in names:
        by = None if name == "李静" else "李静"
        result = add_operator(home, by, name, ROLES[name], db)
        assert result.exit_code == 0, result.output
    return home
