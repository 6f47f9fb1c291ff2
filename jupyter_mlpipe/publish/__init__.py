"""Published pipelines: immutable versioned snapshots of a notebook, API keys, schedules, `mlpipe serve`.

One module per job: `workspace` (where the registry lives), `db` (its SQLite
file), `snapshot` (what a version is), `params` (checking trigger values),
`registry` (names, versions, defaults), `runs` (running a version with the
workspace's store and reuse), `keys`, `schedules` and `scheduler`, `queue` (runs
at once in a server), `text`, `cli` and `serve`. Importing it is cheap.
"""

from __future__ import annotations

from .keys import Keys
from .registry import Registry
from .runs import pipeline_runs, run_published
from .schedules import Schedules
from .workspace import Workspace, workspace_at, workspace_of

__all__ = ["Keys", "Registry", "Schedules", "Workspace", "pipeline_runs", "run_published", "workspace_at",
           "workspace_of"]
