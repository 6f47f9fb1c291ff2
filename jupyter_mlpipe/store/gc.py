"""`mlpipe gc`: remove artifacts no kept run refers to, and old runs on request.

Never removes what a kept run needs: an artifact is kept when a recorded step
run or cache entry refers to it, and also when a run still in progress may have
written it and not recorded it yet (files newer than the start of the oldest
live run). Temporary files of interrupted writes are removed once no live run
can be writing them.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

__all__ = ["collect"]

_TMP_MIN_AGE_S = 3600.0  # a temporary file this old is not being written (with no live run)


def _live_since(history: Any) -> float | None:
    """The start of the oldest run still in progress (its driver alive), or None."""
    starts = [r["started"] for r in history.list_runs(limit=10_000) if r.get("status") == "running"]
    return min(starts) if starts else None


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
    live_since = _live_since(history)
    keep = history.referenced_digests()
    artifacts = ArtifactStore(store.artifacts_root)
    removed, freed, young = [], 0, 0
    for digest in list(artifacts.digests()):
        if digest in keep:
            continue
        size, mtime = _stat(artifacts.path_of(digest))
        if live_since is not None and (mtime is None or mtime >= live_since - 1.0):
            young += 1  # a live run may have written it and not recorded it yet
            continue
        removed.append(digest)
        freed += size
        if not dry_run:
            artifacts.delete(digest)
    if removed and not dry_run:
        history.delete_artifacts(removed)
    stale_tmp = _stale_temporaries(store, live_since, dry_run)
    verb = "would remove" if dry_run else "removed"
    text = (f"{verb} {len(removed)} unreferenced artifact(s) ({_size(freed)}); kept {len(keep)} that "
            "recorded runs refer to")
    if young:
        text += f" and {young} that a run in progress may still need"
    if older_than is not None:
        text += f"; {verb} {len(forgotten)} run(s) older than the given age"
    if stale_tmp:
        text += f"; {verb} {stale_tmp} leftover temporary file(s) of interrupted writes"
    return text + "."


def _stat(path: str) -> tuple[int, float | None]:
    if "://" in path:
        return 0, None
    try:
        st = os.stat(path)
    except OSError:
        return 0, None
    return st.st_size, st.st_mtime


def _stale_temporaries(store: Any, live_since: float | None, dry_run: bool) -> int:
    root = str(store.artifacts_root)
    if "://" in root:
        return 0
    tmp = os.path.join(root, "tmp")
    cutoff = time.time() - _TMP_MIN_AGE_S
    if live_since is not None:
        cutoff = min(cutoff, live_since - 1.0)
    count = 0
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file() and entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                count += 1
                if not dry_run:
                    os.unlink(entry.path)
        except OSError:
            continue
    return count


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
