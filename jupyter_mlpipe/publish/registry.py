"""The registry of a workspace's published pipelines: names, versions, the default, enabled or not.

`Registry.publish` plans the saved notebook, takes the next version number of
the name and writes the snapshot (`snapshot.py`). The first version of a name is
its default until `set_default` changes it; a disabled pipeline refuses triggers
and its schedules skip their fires (`set_enabled`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ..errors import PlanError, PublishError
from .db import RegistryDB
from .snapshot import Snapshot, load_snapshot, write_snapshot

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["NAME_RE", "PipelineInfo", "PipelineNotFound", "Registry", "VersionInfo", "check_name"]

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class PipelineNotFound(PublishError):
    """No published pipeline of that name in the workspace (HTTP 404)."""


class VersionInfo(TypedDict):
    name: str
    version: int
    notebook: str  # relative to the workspace
    digest: str
    description: str | None
    created: float


class PipelineInfo(TypedDict):
    name: str
    default: int
    enabled: bool
    created: float
    versions: list[VersionInfo]


def check_name(name: object) -> str:
    """A pipeline name as given, or PublishError saying what a name may be."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise PublishError(f"{name!r} is not a pipeline name.", pipeline=str(name),
                           hint="Use a letter, then letters, digits, '_', '-' or '.' (at most 64), e.g. "
                           "churn-daily: it appears in URLs.")
    return name


def _version(row: sqlite3.Row) -> VersionInfo:
    return {"name": row["name"], "version": row["version"], "notebook": row["notebook"],
            "digest": row["digest"], "description": row["description"], "created": row["created"]}


class Registry:
    """The published pipelines of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.db = RegistryDB(workspace.registry_path)

    # -- publishing --------------------------------------------------------
    def publish(self, notebook: str | os.PathLike, name: str, description: str | None = None) -> Snapshot:
        """Snapshot the saved notebook as the next version of `name`; returns the snapshot."""
        from ..api import plan as plan_of
        from ..store.paths import store_for

        check_name(name)
        path = Path(notebook).resolve()
        if not path.is_file():
            raise PublishError(f"No notebook at {str(notebook)!r}.", pipeline=name,
                               hint="Save the notebook, and pass its path: mlpipe publish path/to/nb.ipynb --name NAME.")
        data = path.read_bytes()
        _, config = store_for(path)
        plan = plan_of(path, compute=config.compute)  # PlanError: nothing is published
        if not plan.steps:
            raise PlanError(f"{path.name} has no steps, so there is nothing to publish.",
                            hint="Put `%%step NAME` on the first line of a code cell and save the notebook.")
        now = time.time()

        def reserve(c: sqlite3.Connection) -> int:
            row = c.execute("SELECT MAX(version) FROM versions WHERE name = ?", (name,)).fetchone()
            version = (row[0] or 0) + 1
            c.execute("INSERT OR IGNORE INTO pipelines (name, default_version, enabled, created) VALUES (?, ?, 1, ?)",
                      (name, version, now))
            c.execute("INSERT INTO versions (name, version, notebook, digest, description, created)"
                      " VALUES (?, ?, ?, ?, ?, ?)", (name, version, self.workspace.relative(path),
                                                     "pending", description, now))
            return version

        version = self.db.write(reserve)
        try:
            snapshot = write_snapshot(self.workspace, name=name, version=version, notebook=path, data=data,
                                      plan=plan, compute=config.compute, description=description,
                                      envs=config.envs)
        except BaseException:
            def forget(c: sqlite3.Connection) -> None:
                c.execute("DELETE FROM versions WHERE name = ? AND version = ?", (name, version))
                c.execute("DELETE FROM pipelines WHERE name = ? AND NOT EXISTS "
                          "(SELECT 1 FROM versions WHERE name = ?)", (name, name))

            self.db.write(forget)
            raise
        self.db.write(lambda c: c.execute("UPDATE versions SET digest = ? WHERE name = ? AND version = ?",
                                          (snapshot["digest"], name, version)))
        return snapshot

    # -- reading -----------------------------------------------------------
    def names(self) -> list[str]:
        if not self.db.exists():
            return []
        return self.db.read(lambda c: [r[0] for r in c.execute("SELECT name FROM pipelines ORDER BY name")])

    def pipelines(self) -> list[PipelineInfo]:
        return [self.pipeline(name) for name in self.names()]

    def pipeline(self, name: str) -> PipelineInfo:
        """One pipeline with its versions (oldest first); PublishError when there is none of that name."""
        def query(c: sqlite3.Connection) -> PipelineInfo | None:
            row = c.execute("SELECT * FROM pipelines WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            versions = [_version(r) for r in c.execute(
                "SELECT * FROM versions WHERE name = ? AND digest != 'pending' ORDER BY version", (name,))]
            return {"name": name, "default": row["default_version"], "enabled": bool(row["enabled"]),
                    "created": row["created"], "versions": versions}

        found = self.db.read(query) if self.db.exists() else None
        if found is None:
            known = ", ".join(self.names()) or "(none yet)"
            raise PipelineNotFound(f"No published pipeline named {name!r} in the workspace {self.workspace}.",
                               pipeline=name, hint=f"Published pipelines: {known}. Publish one with "
                               "mlpipe publish NOTEBOOK --name NAME (or %pipeline publish NAME).")
        return found

    def version(self, name: str, version: int | None = None) -> VersionInfo:
        """Version `version` of `name` (its default when None)."""
        info = self.pipeline(name)
        wanted = info["default"] if version is None else version
        for item in info["versions"]:
            if item["version"] == wanted:
                return item
        raise PublishError(f"{name!r} has no version {wanted!r}.", pipeline=name, version=wanted if isinstance(
            wanted, int) else None, hint=f"Its versions: {', '.join(str(v['version']) for v in info['versions'])}.")

    def snapshot(self, name: str, version: int | None = None) -> tuple[Snapshot, Path]:
        """The snapshot of a version (default: the default one) and its notebook copy, verified."""
        info = self.version(name, version)
        return load_snapshot(self.workspace, name, info["version"], info["digest"])

    # -- changing ----------------------------------------------------------
    def set_default(self, name: str, version: int) -> None:
        self.version(name, version)  # refuses an unknown one, naming the known
        self.db.write(lambda c: c.execute("UPDATE pipelines SET default_version = ? WHERE name = ?",
                                          (version, name)))

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.pipeline(name)
        self.db.write(lambda c: c.execute("UPDATE pipelines SET enabled = ? WHERE name = ?", (int(enabled), name)))
