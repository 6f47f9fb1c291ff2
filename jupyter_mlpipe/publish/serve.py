"""`mlpipe serve`: a headless Jupyter server with only jupyter-mlpipe's extension, for one workspace.

It serves the same REST API as JupyterLab with the extension (so published
pipelines are triggered the same way in both), fires the workspace's schedules,
and runs no browser UI. Authentication is Jupyter's (a token: set JUPYTER_TOKEN,
or read the one it prints) plus pipeline API keys. It listens on 127.0.0.1 by
default: put it behind a reverse proxy for TLS (docs/publishing.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import MlpipeError
from .workspace import workspace_at

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(root: str, *, port: int = 8765, ip: str = "127.0.0.1", max_runs: int = 2, max_queued: int = 10,
          schedules: bool = True, allow_root: bool = False) -> int:
    """Run the server until it is stopped (Ctrl-C, SIGTERM); returns the exit status."""
    from jupyter_server.serverapp import ServerApp

    folder = Path(root).expanduser().resolve()
    if not folder.is_dir():
        raise MlpipeError(f"--root {root!r} is not a folder.", hint="Pass the workspace folder: mlpipe serve --root DIR.")
    if max_queued < 0:
        raise MlpipeError(f"--max-queued must be 0 or more (got {max_queued}).")
    from traitlets.config import Config

    config = Config()
    config.ServerApp.jpserver_extensions = {"jupyter_mlpipe.server": True}
    config.ServerApp.tornado_settings = {"mlpipe_max_runs": max_runs, "mlpipe_max_queued": max_queued,
                                         "mlpipe_schedules": schedules}
    app = ServerApp(config=config)
    argv = [f"--ServerApp.root_dir={folder}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.ip={ip}", "--ServerApp.open_browser=False", "--ServerApp.terminals_enabled=False"]
    if allow_root:
        argv.append("--ServerApp.allow_root=True")
    app.initialize(argv=argv, find_extensions=False)
    workspace = workspace_at(folder)
    app.log.info("mlpipe serve: workspace %s; published pipelines at %smlpipe/api/pipelines; schedules %s; "
                 "at most %d runs at once, %d waiting", workspace, app.connection_url, "on" if schedules else "off",
                 max_runs, max_queued)
    app.start()
    return 0
