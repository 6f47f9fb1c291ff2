"""Published versions as modules: `%%step feats --module features@2` (or `@latest`, or no version).

The planner finds a module's notebook through a `plan.modules.ModuleResolver`; this one knows, besides
notebook paths, the published pipelines of the workspace of the notebook that uses them
(`workspace.workspace_at`). A version is its snapshot's verified notebook copy, so a module pinned to a
version does not change when its source notebook is edited; the default version (`@latest`, or no
version) follows `mlpipe published NAME --default N`. A disabled pipeline is refused.

It reads the registry's tables directly (`db`, `snapshot`), not through `registry.Registry`, which plans
notebooks when publishing and so depends on the API that plans with this resolver.
"""

from __future__ import annotations

import difflib
import sqlite3
from pathlib import Path

from ..errors import ModuleError, PublishError
from ..plan.modules import ModuleResolver, ModuleSource, is_published, resolve_path
from .db import RegistryDB
from .snapshot import load_snapshot
from .workspace import workspace_at

__all__ = ["module_resolver", "resolve_module"]


def resolve_module(source: str, *, base: Path, step: str) -> ModuleSource:
    """A --module SOURCE: a notebook path (relative to `base`), or a published NAME[@VERSION|@latest]."""
    if not is_published(source):
        return resolve_path(source, base=base, step=step)
    name, _, wanted = source.strip().partition("@")
    workspace = workspace_at(base)
    db = RegistryDB(workspace.registry_path)

    def query(c: sqlite3.Connection) -> tuple[sqlite3.Row | None, list[sqlite3.Row], list[str]]:
        row = c.execute("SELECT * FROM pipelines WHERE name = ?", (name,)).fetchone()
        versions = c.execute("SELECT * FROM versions WHERE name = ? AND digest != 'pending' ORDER BY version",
                             (name,)).fetchall()
        return row, versions, [r[0] for r in c.execute("SELECT name FROM pipelines ORDER BY name")]

    row, versions, names = db.read(query) if db.exists() else (None, [], [])
    if row is None:
        close = difflib.get_close_matches(name, names, n=1)
        raise ModuleError(f"Step {step!r}: no published pipeline {name!r} in the workspace {workspace} "
                          f"(--module {source}).", step=step, module=name,
                          hint=(f"Did you mean {close[0]!r}? " if close else "")
                          + f"Published: {', '.join(names) or '(none)'}. A notebook path must end in .ipynb.")
    if wanted in ("", "latest"):
        version = row["default_version"]
    elif wanted.isdigit():
        version = int(wanted)
    else:
        raise ModuleError(f"Step {step!r}: {source!r} names no version: write {name}@N or {name}@latest.",
                          step=step, module=name)
    known = [r["version"] for r in versions]
    if version not in known:
        raise ModuleError(f"Step {step!r}: the published pipeline {name!r} has no version {version}.", step=step,
                          module=name, version=version,
                          hint=f"Its versions: {', '.join(map(str, known)) or '(none)'}; {name}@latest is "
                          f"version {row['default_version']}.")
    if not row["enabled"]:
        raise ModuleError(f"Step {step!r}: the published pipeline {name!r} (version {version}) is disabled.",
                          step=step, module=name, version=version,
                          hint=f"Enable it (mlpipe published {name} --enable), or use another module.")
    digest = next(r["digest"] for r in versions if r["version"] == version)
    try:
        _, copy = load_snapshot(workspace, name, version, digest)
    except PublishError as exc:
        raise ModuleError(f"Step {step!r}: version {version} of {name!r} cannot be read: {exc.message}",
                          step=step, module=name, version=version, hint=exc.hint) from None
    notebook = next(r["notebook"] for r in versions if r["version"] == version)
    return ModuleSource(label=f"{name}@{version}", path=str(copy), base=str(workspace.resolve(notebook).parent),
                        identity=f"{name}@{version}", version=version)


def module_resolver() -> ModuleResolver:
    """The resolver that plans use for `--module`: notebook paths and published versions."""
    return resolve_module
