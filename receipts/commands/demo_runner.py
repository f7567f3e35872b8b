"""How ``receipts demo`` runs a step's commands: each one in-process in its workspace under the
demo folder, the command line printed, its exit code checked; and the environment it runs in."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
from click.testing import CliRunner

from receipts.errors import WorkspaceError

__all__ = ["DEMO_PASSPHRASE", "Demo", "DemoFailed", "demo_environment"]

DEMO_PASSPHRASE = "demo-only passphrase, never for real keys"  # noqa: S105


class DemoFailed(WorkspaceError):
    """A demo step did not do what it should (a bug, or a broken environment)."""

    exit_code = 3


@dataclass
class Demo:
    """A demo in progress: its folder, where it narrates, and how many steps it has taken."""

    group: click.Group
    root: Path
    say: Callable[[str], None]
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)

    def home(self, name: str) -> Path:
        return self.root / name

    def run(
        self,
        where: str,
        *args: str,
        expect: int = 0,
        show: bool | int = False,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run ``receipts --home ROOT/where ARGS`` in-process and check its exit code; ``show``
        prints the output (True) or its first ``show`` lines; ``env`` adds environment
        variables for this command only (an operator's secret)."""
        argv = ["--home", str(self.home(where)), *args]
        # The real command, run in this process (its output captured so the demo can narrate).
        result = CliRunner(env=env).invoke(self.group, argv, catch_exceptions=False)
        shown = "receipts " + " ".join(shlex.quote(a) for a in argv)
        self.say(f"      $ {shown.replace(str(self.root) + '/', '')}")
        if result.exit_code != expect:
            raise DemoFailed(
                f"demo step failed (exit {result.exit_code}, expected {expect}): "
                f"{shown}\n{result.stdout}{result.stderr}"
            )
        output = result.stdout + result.stderr
        if show:
            lines = output.strip().splitlines()
            limit = len(lines) if show is True else int(show)
            for line in lines[:limit]:
                self.say(f"        {line}")
            if len(lines) > limit:
                self.say(f"        … ({len(lines) - limit} more lines)")
        return result.stdout

    def step(self, text: str) -> None:
        self.steps += 1
        self.say(f"[{self.steps:2d}] {text}")

    def path(self, name: str) -> str:
        return str(self.root / "files" / name)


@contextmanager
def demo_environment() -> Iterator[None]:
    saved = {
        k: os.environ.get(k)
        for k in (
            "RECEIPTS_KEY_PASSPHRASE",
            "RECEIPTS_CA_PASSPHRASE",
            "RECEIPTS_DB",
            "RECEIPTS_HOME",
            "RECEIPTS_OPERATOR",
            "RECEIPTS_OPERATOR_SECRET",
        )
    }
    os.environ["RECEIPTS_KEY_PASSPHRASE"] = DEMO_PASSPHRASE
    os.environ["RECEIPTS_CA_PASSPHRASE"] = DEMO_PASSPHRASE
    os.environ.pop("RECEIPTS_DB", None)
    os.environ.pop("RECEIPTS_HOME", None)
    os.environ.pop("RECEIPTS_OPERATOR", None)
    os.environ.pop("RECEIPTS_OPERATOR_SECRET", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
