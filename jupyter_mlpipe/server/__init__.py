"""The Jupyter server extension of jupyter-mlpipe: a REST API under `{base_url}mlpipe/api/`.

Enabled by the `jupyter_server_config.d/jupyter_mlpipe.json` a wheel installs;
from a source checkout: `jupyter server extension enable jupyter_mlpipe.server`.
Importing this package is cheap: the handlers import the planner and runner
when a request needs them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlpipe.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the mlpipe routes to the server's web application."""
    from .handlers import API_PREFIX, setup_handlers
    from .pipelines import pipeline_routes

    setup_handlers(serverapp.web_app, extra_routes=pipeline_routes)
    serverapp.log.info("jupyter_mlpipe.server: REST API at %s%s/", serverapp.base_url, API_PREFIX)


load_jupyter_server_extension = _load_jupyter_server_extension  # name used by older jupyter_server / notebook
