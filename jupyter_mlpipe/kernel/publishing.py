"""`%pipeline publish` and `%pipeline schedule` in a kernel: the saved notebook, its workspace, one call.

Publishing snapshots the notebook as saved on disk (save first: what is only in
the browser is not published); the workspace is the notebook's (see
`publish.workspace`), the same one `mlpipe publish` and a server use.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import MlpipeError
from .session import session_of

__all__ = ["HANDLERS", "add_commands"]


def add_commands(sub: Any) -> None:
    """Add `publish` and `schedule` to `%pipeline`'s subparsers."""
    from ..publish.cli import add_schedule_command

    publish = sub.add_parser("publish", help="publish this notebook (as saved) as the next version of NAME",
                             add_help=False)
    publish.add_argument("name", metavar="NAME")
    publish.add_argument("--description", default=None, metavar="TEXT")
    publish.add_argument("--json", action="store_true")
    add_schedule_command(sub, workspace_flag=False)


def _notebook(shell: Any) -> str:
    source = session_of(shell).plan()
    if source.notebook is None:
        raise MlpipeError("%pipeline publish needs a saved notebook, and this kernel does not know its file.",
                          hint="Run it from a notebook in JupyterLab, Notebook 7 or VS Code, or from a shell: "
                          "mlpipe publish NOTEBOOK --name NAME.")
    return source.notebook


def _publish(shell: Any, args: argparse.Namespace) -> Any:
    from ..publish.cli import cmd_publish

    return cmd_publish(argparse.Namespace(notebook=_notebook(shell), name=args.name,
                                          description=args.description, json=args.json))


def _schedule(shell: Any, args: argparse.Namespace) -> Any:
    from ..publish.cli import cmd_schedule
    from ..publish.workspace import workspace_of

    args.workspace = str(workspace_of(_notebook(shell)).root)
    cmd_schedule(args)


HANDLERS = {"publish": _publish, "schedule": _schedule}
