"""The notebook's folder, shipped through the artifact store to nodes that do not have it.

Steps run in the notebook's folder: they open its data files and import its
modules. On a cluster without a shared file system, a node does not have that
folder. Ray's `runtime_env` `working_dir` uploads a folder only for a whole job
(`ray.init`), not per task, and our step executors serve many drivers; the
artifact store, which every node must reach anyway, carries it instead: with
`[ray] ship_project = true` the driver packs the folder (without `.mlpipe/`,
`.git/`, checkpoints, caches) into one content-addressed zip per run, and a step
(or a fan-out step's task) whose node lacks the folder unpacks it once per content
into a temporary folder and runs there (`folder_here`).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile

from ..store.artifacts import ArtifactStore

__all__ = ["folder_here", "missing_folder", "pack", "unpack"]

_SKIPPED = {".mlpipe", ".git", ".ipynb_checkpoints", "__pycache__"}


def pack(folder: str, artifacts: ArtifactStore) -> str:
    """Store the folder's files as one zip; its digest."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED)
            for name in sorted(files):
                full = os.path.join(root, name)
                archive.write(full, os.path.relpath(full, folder))
    return artifacts.put(buffer.getvalue(), variable="the notebook's folder").digest


def folder_here(cwd: str, project: str | None, store: str) -> str:
    """The notebook's folder as this node has it: `cwd` itself where the node shares the driver's file
    system, else the folder shipped in the store at `store` (`project`) unpacked here; else `cwd`, missing."""
    if os.path.isdir(cwd) or not project:
        return cwd
    return unpack(project, ArtifactStore(store))


def missing_folder(cwd: str) -> str:
    """What to say when the notebook's folder is not on the node where a step was to run, and what to do."""
    import socket

    return (f"the notebook's folder {cwd} does not exist on {socket.gethostname()}, where the step was to run: "
            "share it with every Ray node at the same path, or set `[ray] ship_project = true` in mlpipe.toml")


def unpack(digest: str, artifacts: ArtifactStore) -> str:
    """The folder as packed, unpacked on this node (once per content); its path."""
    target = os.path.join(tempfile.gettempdir(), f"mlpipe-project-{digest[-16:]}")
    if not os.path.isdir(target):
        staging = tempfile.mkdtemp(prefix="mlpipe-project-")
        with zipfile.ZipFile(io.BytesIO(artifacts.get(digest))) as archive:
            archive.extractall(staging)
        try:
            os.rename(staging, target)
        except OSError:  # another step unpacked it meanwhile
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return target
