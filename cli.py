"""The ``receipts`` command line: parse, call the public API, print. No business logic here.

Sub-commands live in ``receipts/commands/`` by topic; heavy libraries are imported inside the
commands that use them, so ``receipts --help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from receipts import __version__
from receipts.commands import register
from receipts.commands.runtime import Context
from receipts.workspace import default_home

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder (env RECEIPTS_HOME; default ./.receipts).",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    envvar="RECEIPTS_DB",
    help="Ledger database URL (env RECEIPTS_DB; default SQLite in the workspace).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", count=True, help="More output.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.version_option(__version__, prog_name="receipts")
@click.pass_context
def main(
    click_ctx: click.Context,
    home: Path | None,
    db_url: str | None,
    as_json: bool,
    verbose: int,
    quiet: int,
) -> None:
    """Electronic union-funds receipts (工会经费收入专用收据(电子)): issue, verify, book,
    transmit, reconcile and archive them across the national, provincial and city tiers.

    \b
    Example:
      receipts --home ./yinchuan init --org 640100 --name 银川市总工会 --tier city
    """
    click_ctx.obj = Context(
        home=home or default_home(), db_url=db_url, json=as_json, verbosity=verbose - quiet
    )


register(main)


if __name__ == "__main__":  # python cli.py …, as well as the installed `receipts`
    main(prog_name="receipts")
