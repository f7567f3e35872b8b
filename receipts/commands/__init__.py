"""The CLI's commands, one module per topic (``*_cmds.py``), each command a module-level click
function; ``cli.py`` names them by import path and loads each only when it runs
(:mod:`receipts.commands.lazy`). Shared pieces: :mod:`~receipts.commands.runtime` (the context
a command receives), :mod:`~receipts.commands.root` (group options, exit codes) and
:mod:`~receipts.commands.tables` (terminal tables).
"""

__all__: list[str] = []
