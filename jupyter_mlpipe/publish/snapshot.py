"""An immutable snapshot of a notebook: what a published version is.

A version's folder (`WORKSPACE/.mlpipe/pipelines/NAME/vN/`) holds `notebook.ipynb`,
a byte-for-byte copy of the saved notebook, and `snapshot.json`: its plan, its
parameters with their defaults and types, its compute targets (from the
mlpipe.toml of the day), and the Python and package versions it was published
with. Both files are written once, read-only, and the notebook's SHA-256 is kept
in the registry too: a snapshot whose bytes changed is refused, never run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import PublishError
from .params import ParamSpec, param_specs

if TYPE_CHECKING:
    from ..plan import Pipeline
    from .workspace import Workspace

__all__ = ["NOTEBOOK_FILE", "SNAPSHOT_FILE", "Snapshot", "load_snapshot", "notebook_digest", "write_snapshot"]

NOTEBOOK_FILE = "notebook.ipynb"
SNAPSHOT_FILE = "snapshot.json"


class Environment(TypedDict):
    python: str
    packages: dict[str, str]  # top-level module imported by the notebook -> its distribution's version
    mlpipe: str


class Snapshot(TypedDict):
    """`snapshot.json`: one published version."""

    name: str
    version: int
    notebook: str  # the source notebook, relative to the workspace ('/' separators)
    digest: str  # SHA-256 of notebook.ipynb
    description: str | None
    created: float
    plan: dict[str, Any]  # Pipeline.to_dict() of the snapshot (learned definitions included)
    params: dict[str, ParamSpec]
    compute: dict[str, dict[str, Any]]  # the compute targets of mlpipe.toml when it was published
    envs: dict[str, Any]  # its [env.NAME] tables then (absent in versions published before environments)
    environment: Environment


def notebook_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _imported(plan: Pipeline) -> list[str]:
    """Top-level modules the steps and their shared code import."""
    from ..execute.reuse import imported_modules

    return sorted({m for step in plan.steps.values() for m in imported_modules(step)})


def environment_of(plan: Pipeline) -> Environment:
    from importlib.metadata import version

    from ..execute.reuse import package_version

    packages = {m: v for m in _imported(plan) if (v := package_version(m)) is not None}
    return {"python": platform.python_version(), "packages": packages, "mlpipe": version("jupyter-mlpipe")}


def write_snapshot(workspace: Workspace, *, name: str, version: int, notebook: Path, data: bytes,
                   plan: Pipeline, compute: dict[str, dict[str, Any]], description: str | None,
                   envs: dict[str, Any] | None = None) -> Snapshot:
    """Write version `version` of `name` (a new folder; an existing one is never touched)."""
    folder = workspace.version_dir(name, version)
    snapshot: Snapshot = {
        "name": name, "version": version, "notebook": workspace.relative(notebook),
        "digest": notebook_digest(data), "description": description, "created": time.time(),
        "plan": plan.to_dict(), "params": param_specs(plan), "compute": compute,
        "envs": dict(envs or {}),
        "environment": environment_of(plan),
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".v{version}.{os.getpid()}.tmp"
    staging.mkdir()
    for file, content in ((NOTEBOOK_FILE, data),
                          (SNAPSHOT_FILE, json.dumps(snapshot, indent=1, default=str).encode())):
        path = staging / file
        path.write_bytes(content)
        path.chmod(0o444)
    try:
        staging.rename(folder)  # all or nothing: a version folder is complete or absent
    except OSError:
        for file in (NOTEBOOK_FILE, SNAPSHOT_FILE):
            (staging / file).unlink(missing_ok=True)
        staging.rmdir()
        raise PublishError(f"Version {version} of {name!r} already exists in {folder.parent}.", pipeline=name,
                           version=version, hint="Publish again: the next free version number is taken.") from None
    return snapshot


def load_snapshot(workspace: Workspace, name: str, version: int, digest: str) -> tuple[Snapshot, Path]:
    """The snapshot of a version and the path of its notebook copy, checked against `digest`."""
    folder = workspace.version_dir(name, version)
    try:
        snapshot: Snapshot = json.loads((folder / SNAPSHOT_FILE).read_text(encoding="utf-8"))
        data = (folder / NOTEBOOK_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise PublishError(f"The snapshot of {name!r} v{version} cannot be read ({exc}).", pipeline=name,
                           version=version, hint=f"Its folder {folder} was changed or removed: publish the "
                           "notebook again and make the new version the default.") from None
    if notebook_digest(data) != digest or snapshot.get("digest") != digest:
        raise PublishError(f"The snapshot of {name!r} v{version} was modified after it was published "
                           f"(its notebook no longer hashes to {digest[:12]}...); it is not run.",
                           pipeline=name, version=version,
                           hint="Published versions are immutable: publish the notebook again instead.")
    return snapshot, folder / NOTEBOOK_FILE
