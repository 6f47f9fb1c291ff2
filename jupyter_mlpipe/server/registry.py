"""The runs this server started, and the run histories it has seen.

One `RunRegistry` per Jupyter server (kept in the tornado settings). The
in-memory `Run` of a run started here is fresher than its SQLite record (a
running step's duration, the final status a moment before it is written), so
the handlers overlay it on the record.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["RunRegistry"]

_KEEP_FINISHED = 200


class RunRegistry:
    """Run objects by id, and History handles by history file, shared by the handlers' threads."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(os.path.realpath(root))
        self._lock = threading.Lock()
        self._runs: dict[str, Any] = {}  # run id -> Run (insertion order = start order)
        self._run_history: dict[str, str] = {}  # run id -> history file of its store
        self._histories: dict[str, Any] = {}  # history file -> History

    # -- runs --------------------------------------------------------------
    def add(self, run: Any) -> None:
        from ..store.paths import Store

        history_path = str(Store.for_notebook(run.notebook).history_path)
        with self._lock:
            self._runs[run.id] = run
            self._run_history[run.id] = history_path
            if run.history is not None:
                self._histories.setdefault(history_path, run.history)
            finished = [rid for rid, r in self._runs.items() if r.done]
            for rid in finished[: max(0, len(finished) - _KEEP_FINISHED)]:
                del self._runs[rid]
                self._run_history.pop(rid, None)

    def get(self, run_id: str) -> Any | None:
        with self._lock:
            return self._runs.get(run_id)

    def history_of_run(self, run_id: str) -> Any | None:
        with self._lock:
            path = self._run_history.get(run_id)
        return self.history(path) if path else None

    # -- histories ---------------------------------------------------------
    def history(self, history_path: str | os.PathLike) -> Any | None:
        """The History of a history file, opened once; None when the file does not exist (nothing is created)."""
        from ..store.history import History

        key = str(history_path)
        with self._lock:
            found = self._histories.get(key)
            if found is not None:
                return found
        if not os.path.isfile(key):
            return None
        history = History(key)
        with self._lock:
            return self._histories.setdefault(key, history)

    def history_for_notebook(self, notebook: str | os.PathLike) -> Any | None:
        from ..store.paths import Store

        return self.history(Store.for_notebook(notebook).history_path)

    def known_histories(self) -> list[Any]:
        """Every history this server has opened, then the one at the root's .mlpipe (if any)."""
        with self._lock:
            paths = list(self._histories)
        root_history = str(self.root / ".mlpipe" / "history.sqlite")
        if root_history not in paths:
            paths.append(root_history)
        return [h for h in (self.history(p) for p in paths) if h is not None]
