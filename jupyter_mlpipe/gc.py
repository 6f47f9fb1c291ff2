"""`mlpipe gc`: remove artifacts no kept run refers to, and old runs on request."""

from __future__ import annotations

import shutil
from typing import Any

__all__ = ["collect"]


def collect(history: Any, store: Any, *, older_than: float | None = None, dry_run: bool = False) -> str:
    """Delete unreferenced artifacts (and runs older than `older_than` seconds, if given)."""
    from .artifacts import ArtifactStore

    forgotten: list[str] = []
    if older_than is not None:
        forgotten = history.runs_older_than(older_than)
        if not dry_run:
            history.delete_runs(forgotten)
            for run_id in forgotten:
                shutil.rmtree(store.run_dir(run_id), ignore_errors=True)
    keep = history.referenced_digests()
    artifacts = ArtifactStore(store.artifacts_root)
    removed, freed = 0, 0
    for digest in list(artifacts.digests()):
        if digest in keep:
            continue
        removed += 1
        if not dry_run:
            artifacts.delete(digest)
    verb = "would remove" if dry_run else "removed"
    return (f"{verb} {removed} unreferenced artifact(s); kept {len(keep)} that recorded runs refer to"
            + (f"; {verb} {len(forgotten)} run(s) older than the given age" if older_than is not None else "")
            + ".")
