"""Server configuration for the integration tests (started by Playwright's webServer).

The default is a server on port 8888 without a token, its root in a temporary
folder, the Galata helpers loaded, and the jupyter-mlpipe server extension on.
No Ray cluster is needed: the server starts a local Ray on the first run.
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.jpserver_extensions.update({"jupyter_mlpipe.server": True})  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821  (CI containers run as root)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
