"""``receipts demo``: the whole life of receipts across three tiers, in a fresh folder, through
the same commands a federation would type (each step prints the command behind it).

National (000000) → 宁夏 (640000) → 银川 (640100) and 兴庆区 (640104), plus one payer, an
enterprise. Keys and certificates come from the real PKI flow; passphrases are demo values put
in the environment for this run only. The steps are in :mod:`receipts.commands.demo_steps`,
the files they make up in :mod:`receipts.commands.demo_files`, and
:mod:`receipts.commands.demo_runner` runs each of their commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from receipts.commands import demo_steps
from receipts.commands.demo_runner import Demo, demo_environment
from receipts.commands.runtime import Context, command
from receipts.errors import WorkspaceError

__all__ = ["register", "run_demo"]


def run_demo(
    group: click.Group, root: Path, say: Callable[[str], None], *, force: bool = False
) -> dict[str, str]:
    """Run the demo in ``root`` (new or empty, unless ``force``); return paths worth opening."""
    if root.exists() and any(root.iterdir()) and not force:
        raise WorkspaceError(f"{root} is not empty; give an empty folder or --force")
    if root.exists() and force:
        import shutil

        shutil.rmtree(root)
    (root / "files").mkdir(parents=True)
    demo = Demo(group, root, say)
    with demo_environment():
        demo_steps.workspaces(demo)
        demo_steps.pki(demo)
        demo_steps.stock(demo)
        first, reversed_ref = demo_steps.issue(demo)
        demo_steps.transmit(demo)
        demo_steps.audit_offline(demo, first)
        demo_steps.book(demo)
        demo_steps.reconcile(demo)
        demo_steps.close_and_archive(demo)
        demo.step("Statistics of the province, where everything below it arrived")
        demo.run("640000", "stats", "--by", "issuer", show=True)
        demo.run("640000", "audit", show=True)
    elapsed = time.perf_counter() - demo.started
    paths = {
        "receipt PDF": demo.path("receipt-640100.pdf"),
        "trust bundle": demo.path("national-trust.pem"),
        "archive": demo.path("640100-archive.zip"),
        "workspaces": str(root),
    }
    say("")
    say(
        f"Done in {elapsed:.1f} s: {demo.steps} steps, four federations and one payer under "
        f"{root}. Reversed receipt: {reversed_ref}."
    )
    for label, path in paths.items():
        say(f"  {label:13s} {path}")
    return paths


def register(group: click.Group) -> None:
    """Attach ``demo``."""

    @command(group, "demo", epilog="\b\nExample:\n  receipts demo ./receipts-demo")
    @click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Empty a non-empty folder first.")
    def demo_cmd(ctx: Context, folder: Path | None, force: bool) -> None:
        """The whole life of receipts across three tiers on SQLite, in a fresh folder."""
        run_demo(group, folder or Path("receipts-demo"), ctx.echo, force=force)
