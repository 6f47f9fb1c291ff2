"""`mlpipe gc`: remove artifacts no kept run refers to, and old runs on request.

Never removes what a kept run needs: an artifact is kept when a recorded step
run or cache entry refers to it, and also when a run still in progress may have
written it and not recorded it yet (files newer than the start of the oldest
live run). Temporary files of interrupted writes are removed once no live run
can be writing them.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .history import History
    from .paths import Store

__all__ = ["collect"]

logger = logging.getLogger(__name__)

_TMP_MIN_AGE_S = 3600.0  # a temporary file this old is not being written (with no live run)


def _live_since(history: History) -> float | None:
    """The start of the oldest run still in progress (its driver alive), or None."""
    starts = [r["started"] for r in history.list_runs(limit=10_000) if r.get("status") == "running"]
    return min(starts) if starts else None


def collect(
    history: History, store: Store, *, older_than: float | None = None, dry_run: bool = False
) -> str:
    """Delete unreferenced artifacts (and runs older than `older_than` seconds, if given)."""
    from .artifacts import ArtifactStore

    forgotten: list[str] = []
    if older_than is not None:
        forgotten = history.gc.runs_older_than(older_than)
        if not dry_run:
            history.gc.delete_runs(forgotten)
            for run_id in forgotten:
                _remove_tree(store.run_dir(run_id))
    live_since = _live_since(history)
    keep = history.gc.referenced_digests()
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
        history.gc.delete_artifacts(removed)
    stale_tmp = _stale_temporaries(store, live_since, dry_run)
    verb = "would remove" if dry_run else "removed"
    text = (
        f"{verb} {len(removed)} unreferenced artifact(s) ({_size(freed)});"
        f" kept {len(keep)} that recorded runs refer to"
    )
    if young:
        text += f" and {young} that a run in progress may still need"
    if older_than is not None:
        text += f"; {verb} {len(forgotten)} run(s) older than the given age"
    if stale_tmp:
        text += f"; {verb} {stale_tmp} leftover temporary file(s) of interrupted writes"
    return text + "."


def _remove_tree(path: os.PathLike) -> None:
    """Remove a run's folder of executed notebooks; what cannot be removed is logged and left."""
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        logger.warning("could not remove all of %s; left it in place", path)


def _stat(path: str) -> tuple[int, float | None]:
    """Size and modification time of a local artifact; (0, None) when remote or gone."""
    if "://" in path:
        return 0, None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0, None  # removed meanwhile (another gc)
    except OSError:
        logger.warning("could not stat %s", path, exc_info=True)
        return 0, None
    return st.st_size, st.st_mtime


def _stale_temporaries(store: Store, live_since: float | None, dry_run: bool) -> int:
    """Remove (or count, with `dry_run`) leftover `.part` files no live run can be writing."""
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
    except FileNotFoundError:
        return 0  # nothing was ever written
    except OSError:
        logger.warning("could not list %s", tmp, exc_info=True)
        return 0
    for entry in entries:
        try:
            if entry.is_file() and entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                count += 1
                if not dry_run:
                    os.unlink(entry.path)
        except FileNotFoundError:
            continue  # finished (renamed into place) or removed meanwhile
        except OSError:
            logger.warning("could not remove %s", entry.path, exc_info=True)
    return count


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
