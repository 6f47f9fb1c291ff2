"""The workspace: the folder whose registry holds the published pipelines, keys and schedules.

One rule, shared by the CLI, the kernel and the server: the workspace of a
notebook is the nearest folder at or above the notebook's folder that holds an
`mlpipe.toml` (the file that configures the notebook), and the notebook's own
folder when there is none. A server (`mlpipe serve --root DIR`, or Jupyter with
the extension) serves the workspace of its root folder: the same rule applied
to DIR. So a notebook anywhere below a folder with an `mlpipe.toml` (an empty
one will do) publishes where a server started in that folder looks.

Everything lives under `WORKSPACE/.mlpipe/pipelines/`: `registry.sqlite` and one
read-only folder per published version (`NAME/vN/`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import CONFIG_FILE

__all__ = ["Workspace", "workspace_at", "workspace_of"]


@dataclass(frozen=True)
class Workspace:
    """A workspace folder, and where its registry and snapshots live."""

    root: Path

    @property
    def folder(self) -> Path:
        """`.mlpipe/pipelines` in the workspace: the registry and the snapshots."""
        return self.root / ".mlpipe" / "pipelines"

    @property
    def registry_path(self) -> Path:
        return self.folder / "registry.sqlite"

    def version_dir(self, name: str, version: int) -> Path:
        return self.folder / name / f"v{version}"

    def relative(self, path: str | os.PathLike) -> str:
        """`path` relative to the workspace, with '/' (so a workspace can be moved whole)."""
        return PurePosixPath(*Path(os.path.relpath(Path(path).resolve(), self.root)).parts).as_posix()

    def resolve(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def __str__(self) -> str:
        return str(self.root)


def workspace_at(folder: str | os.PathLike) -> Workspace:
    """The workspace of a folder: the nearest one at or above it with an mlpipe.toml, else the folder."""
    start = Path(folder).resolve()
    for candidate in [start, *start.parents]:
        if (candidate / CONFIG_FILE).is_file():
            return Workspace(candidate)
    return Workspace(start)


def workspace_of(notebook: str | os.PathLike) -> Workspace:
    """The workspace a notebook publishes into (see the module's docstring)."""
    return workspace_at(Path(notebook).resolve().parent)
