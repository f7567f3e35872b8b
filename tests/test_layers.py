"""The import layers of pyproject.toml's ``[tool.importlinter]`` hold, and the check catches a
back-arrow: planted in a copy of the code, an import against a layer makes ``lint-imports`` fail
and name the broken contract and the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contract_names() -> dict[str, str]:
    """The contracts of pyproject.toml by type: ``layers`` and ``forbidden`` (first of each)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for contract in config["tool"]["importlinter"]["contracts"]:
        names.setdefault(contract["type"], contract["name"])
    return names


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the code in ``where`` (found first on the import path)."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: pip install -e '.[test]' installs import-linter")
    path = os.pathsep.join(filter(None, [str(where), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_the_code(tmp: Path) -> Path:
    """receipts/, signing/, schemas/ (their Python modules) and pyproject.toml, in ``tmp``."""

    def not_python(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if not (n.endswith(".py") or Path(folder, n).is_dir())} | {
            "__pycache__"
        }

    for package in ("receipts", "signing", "schemas"):
        shutil.copytree(ROOT / package, tmp / package, ignore=not_python)
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def plant(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}  # planted\n", "utf-8")


def test_the_layers_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_domain_importing_the_commands_breaks_the_layers(tmp_path: Path) -> None:
    copy = copy_of_the_code(tmp_path)
    plant(copy / "receipts" / "domain" / "money.py", "import receipts.commands")
    done = lint_imports(copy)
    assert done.returncode != 0, done.stdout
    assert f"{contract_names()['layers']} BROKEN" in done.stdout
    # Only the copy holds this import: the copy was analysed, not the installed package.
    assert "receipts.domain.money -> receipts.commands" in done.stdout


def test_the_ledger_importing_a_workflow_breaks_the_layers(tmp_path: Path) -> None:
    copy = copy_of_the_code(tmp_path)
    plant(copy / "receipts" / "ledger" / "models.py", "from receipts.issuing import issue")
    done = lint_imports(copy)
    assert done.returncode != 0, done.stdout
    assert f"{contract_names()['layers']} BROKEN" in done.stdout
    assert "receipts.ledger.models -> receipts.issuing.issue" in done.stdout


def test_signing_importing_receipts_breaks_its_contract(tmp_path: Path) -> None:
    copy = copy_of_the_code(tmp_path)
    plant(copy / "signing" / "keys.py", "import receipts")
    done = lint_imports(copy)
    assert done.returncode != 0, done.stdout
    assert f"{contract_names()['forbidden']} BROKEN" in done.stdout
    assert "signing.keys -> receipts" in done.stdout
