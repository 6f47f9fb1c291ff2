"""Where a notebook's runs live, and the one way every front end opens its store and history.

`.mlpipe/` beside the notebook holds `history.sqlite` and `runs/RUN_ID/` (executed
step notebooks); the artifacts live there too unless `mlpipe.toml` names another
store. The CLI, the kernel, the API and the server all open a notebook's history
through `open_history`, so "no runs yet" reads the same everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RunNotFound

if TYPE_CHECKING:
    from ..config import Config
    from .history import History

__all__ = ["Store", "store_for", "open_history", "notebook_of"]


@dataclass
class Store:
    """Where a notebook's runs live: history, executed step notebooks, artifacts."""

    base: Path  # the notebook's folder
    root: Path  # .mlpipe beside the notebook
    artifacts_root: str

    @classmethod
    def for_notebook(cls, notebook: str | os.PathLike, store: str | None = None) -> "Store":
        base = Path(notebook).resolve().parent
        root = base / ".mlpipe"
        return cls(base, root, store or str(root))

    @property
    def history_path(self) -> Path:
        return self.root / "history.sqlite"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id


def store_for(notebook: str | os.PathLike, store: str | None = None) -> tuple[Store, "Config"]:
    """The notebook's Store (the artifacts where `mlpipe.toml` or `store` says) and its config."""
    from ..config import load_config

    config = load_config(Path(notebook).resolve().parent)
    return Store.for_notebook(notebook, store or config.store), config


def notebook_of(path: str | os.PathLike) -> Path:
    """A notebook path as given, or a stand-in notebook inside a folder (runs of any notebook there)."""
    folder = Path(path)
    return folder if folder.suffix == ".ipynb" else folder / "_.ipynb"


def open_history(path: str | os.PathLike, *, hint: str) -> tuple["History", Store]:
    """The run history of a notebook (or of a folder's notebooks); RunNotFound with `hint` when none is recorded."""
    from .history import History

    where, _ = store_for(notebook_of(path))
    if not where.history_path.exists():
        raise RunNotFound(f"No runs recorded for {str(path)!r} (no {where.history_path}).", hint=hint)
    return History(where.history_path), where
