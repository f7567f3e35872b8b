"""An archive package checked as its README.txt says, without this product: unpack it, read
the README's command lines, run them in a shell (docs/formats.md, "Checking an archive without
the product")."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from tests.support.skips import need_tool

__all__ = ["readme_commands", "run_readme", "unpack"]


def unpack(package: Path, into: Path) -> Path:
    """``package`` extracted into the folder ``into``; ``into``."""
    # Python's zipfile stands in for `unzip` here: the member names were checked when written.
    with zipfile.ZipFile(package) as z:
        z.extractall(into)
    return into


def readme_commands(folder: Path) -> list[str]:
    """The command lines (``$ ...``) of the unpacked package's README.txt."""
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    return [line[2:] for line in readme.splitlines() if line.startswith("$ ")]


def run_readme(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the README's commands in ``folder``: their output, and the first failing status."""
    for tool, package in [
        ("sha256sum", "coreutils"),
        ("xmlsec1", "xmlsec1"),
        ("pdfsig", "poppler-utils"),
        ("pdfdetach", "poppler-utils"),
        ("certutil", "libnss3-tools"),
    ]:
        need_tool(tool, package)
    # Each line on its own, as a reader would type it; the first that fails gives the status.
    out, err, status = [], [], 0
    for line in readme_commands(folder):
        run = subprocess.run(
            ["bash", "-c", line],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        out.append(run.stdout)
        err.append(run.stderr)
        status = status or run.returncode
    return subprocess.CompletedProcess(["README.txt"], status, "".join(out), "".join(err))
