"""``receipts demo``: the whole life of receipts across three tiers, in a fresh folder, through
the same commands a federation would type (each step prints the command behind it).

National (000000) → 宁夏 (640000) → 银川 (640100) and 兴庆区 (640104), plus one payer, an
enterprise. Keys and certificates come from the real PKI flow; passphrases are demo values put
in the environment for this run only. The steps are in :mod:`receipts.commands.demo_steps`,
the files they make up in :mod:`receipts.commands.demo_files`, and
:mod:`receipts.commands.demo_runner` runs each of their commands.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import click

from receipts.commands import demo_money, demo_nodes, demo_operators, demo_steps
from receipts.commands.demo_runner import Demo, demo_environment
from receipts.commands.runtime import Context, with_context
from receipts.errors import WorkspaceError

__all__ = ["demo", "run_demo"]


@click.command("demo", epilog="\b\nExample:\n  receipts demo ./receipts-demo")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Empty a non-empty folder first.")
@with_context
def demo(ctx: Context, folder: Path | None, force: bool) -> None:
    """The whole life of receipts across three tiers on SQLite, in a fresh folder."""
    root = click.get_current_context().find_root().command
    assert isinstance(root, click.Group)
    run_demo(root, folder or Path("receipts-demo"), ctx.echo, force=force)


def run_demo(
    group: click.Group, root: Path, say: Callable[[str], None], *, force: bool = False
) -> dict[str, str]:
    """Run the demo in ``root`` (new or empty, unless ``force``) through the commands of
    ``group`` (the ``receipts`` root group); return the paths worth opening."""
    if root.exists() and any(root.iterdir()) and not force:
        raise WorkspaceError(f"{root} is not empty; give an empty folder or --force")
    if root.exists() and force:
        shutil.rmtree(root)
    (root / "files").mkdir(parents=True)
    run = Demo(group, root, say)
    with demo_environment():
        demo_steps.workspaces(run)
        demo_steps.pki(run)
        demo_steps.stock(run)
        first, reversed_ref = demo_steps.issue(run)
        demo_steps.transmit(run)
        demo_steps.audit_offline(run, first)
        demo_steps.book(run)
        demo_steps.reconcile(run)
        demo_money.money(run)
        demo_steps.close_and_archive(run)
        demo_nodes.online(run, first, reversed_ref)
        run.step("Statistics of the province, where everything below it arrived")
        run.run("640000", "stats", "--by", "issuer", show=True)
        run.run("640000", "audit", show=True)
        demo_operators.operators(run, first)
    elapsed = time.perf_counter() - run.started
    paths = {
        "receipt PDF": run.path("receipt-640100.pdf"),
        "trust bundle": run.path("national-trust.pem"),
        "archive": run.path("640100-archive.zip"),
        "workspaces": str(root),
    }
    say("")
    say(
        f"Done in {elapsed:.1f} s: {run.steps} steps, four federations and one payer under "
        f"{root}. Reversed receipt: {reversed_ref}."
    )
    for label, path in paths.items():
        say(f"  {label:13s} {path}")
    return paths
