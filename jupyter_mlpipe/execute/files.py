"""Files a step reads and writes in the notebook's folder, seen at run time and carried like values.

A notebook writes `out.csv` in one cell and reads it in a later one; run as a
pipeline, the two steps would have no edge, could run in either order, and on a
cluster the reader might not see the file. Python's audit hooks (PEP 578) report
every `open`, `os.rename`, `os.remove`, `os.mkdir`, `os.listdir`, `shutil.rmtree`
... of the step; each path inside the notebook's folder becomes a carried state
`@file:PATH` that every step touching it reads and defines, so the steps that
touch a path run in notebook order (the run learns it the first time, the next
plan knows it). A written file's content is handed on through the store and
written back before the next step that touches it (so a worker on another node
gets it too); a file only read, and never written by the notebook, is handed on
as its content hash, which makes a changed data file re-run its readers.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from typing import Any, Literal

__all__ = ["FILE_PREFIX", "FOUND_LIMIT", "FileAccess", "file_key", "found_key", "literal_paths", "materialize",
           "state_of", "watch"]

FILE_PREFIX = "@file:"
Access = Literal["read", "write"]
_IGNORED_PARTS = (".mlpipe", "__pycache__", ".ipynb_checkpoints", ".git")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
FOUND_LIMIT = 16 * 1024 * 1024
"""A file up to this size is kept as the step found it before touching it (`FileAccess.found`), so a step
re-run in the same run can start from it; a larger one is kept as `unknown` and left as it is."""


class FileAccess:
    """The paths one running step touched under `base`, with how."""

    def __init__(self, base: str) -> None:
        self.base = os.path.realpath(base)
        self.touched: dict[str, Access] = {}
        self.literals: dict[str, tuple | None] = {}
        self.found: dict[str, tuple[float, dict]] = {}  # path -> (when, what it was before the step touched it)
        self.fresh: set[str] = set()  # paths whose first touch replaced what was there (`open(p, 'w')`)
        self._looking = threading.local()  # reading a file for `found` opens it too: not a touch of the step

    def note(self, path: Any, access: Access, *, truncates: bool = False) -> None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or not path or getattr(self._looking, "on", False):
            return
        full = os.path.realpath(os.path.join(os.getcwd(), path))
        if not full.startswith(self.base + os.sep):
            return
        rel = os.path.relpath(full, self.base)
        if any(part in _IGNORED_PARTS for part in rel.split(os.sep)) or rel.endswith((".pyc", ".ipynb")):
            return
        if rel not in self.found:  # an audit event comes before the change: this is what the step found
            self.keep_found(rel, full)
            if truncates:
                self.fresh.add(rel)
        if self.touched.get(rel) != "write":
            self.touched[rel] = access
        if access == "write":  # a new or removed entry changes what its folders list
            parent = os.path.dirname(rel)
            while parent:
                if parent not in self.found:
                    self.keep_found(parent, os.path.join(self.base, parent))
                self.touched[parent] = "write"
                parent = os.path.dirname(parent)


    def keep_found(self, rel: str, full: str) -> None:
        """Keep what `rel` is before the step changes it: a step that touched it first in notebook order and
        runs again in this run starts from it, not from what its own or a concurrent attempt left."""
        self._looking.on = True  # this thread's own opens; another thread's are still the step's
        try:
            self.found[rel] = (time.time(), _found_state(full))
        finally:
            self._looking.on = False

    def watch_literals(self, paths: list[str]) -> None:
        """Paths the step's code names as plain strings: C code (pyarrow's `to_parquet`, h5py, OpenCV)
        opens files without an audit event, so these are looked at before and after the step."""
        self.literals = {path: _look(os.path.join(self.base, path)) for path in paths}
        for path in paths:  # what C code may change: as it was before the step
            full = os.path.realpath(os.path.join(self.base, path))
            rel = os.path.relpath(full, self.base)
            if full.startswith(self.base + os.sep) and rel not in self.found:
                self.keep_found(rel, full)

    def settle_literals(self) -> None:
        """A named path that changed was written; one that is there and did not change was read."""
        for path, before in self.literals.items():
            after = _look(os.path.join(self.base, path))
            if after != before:
                self.note(os.path.join(self.base, path), "write")
            elif after is not None:
                self.note(os.path.join(self.base, path), "read")

    def note_modules(self) -> None:
        """The step's own modules (`helpers.py` beside the notebook) are files it reads: an import from a
        valid `.pyc` opens no `.py` file, so the loaded modules are asked where they came from."""
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.endswith(".py") and path.startswith(self.base + os.sep):
                self.note(path, "read")


def _look(path: str) -> tuple | None:
    """What a path is now, cheaply: None when absent; a folder by its names, a file by size and mtime."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if os.path.isdir(path):
        try:
            return ("dir", tuple(sorted(os.listdir(path))))
        except OSError:
            return ("dir", ())
    return ("file", stat.st_size, stat.st_mtime_ns)


def _found_state(full: str) -> dict:
    """A path as `materialize` can make it again: missing, a folder (its names), a file up to FOUND_LIMIT
    (its bytes); a larger file is `unknown` (left as it is)."""
    try:
        stat = os.stat(full)
    except OSError:
        return {"kind": "missing"}
    if os.path.isdir(full):
        try:
            return {"kind": "dir", "names": sorted(os.listdir(full))}
        except OSError:
            return {"kind": "dir", "names": []}
    if stat.st_size > FOUND_LIMIT:
        return {"kind": "unknown", "size": stat.st_size}
    try:
        with open(full, "rb") as fh:
            return {"kind": "file", "data": fh.read()}
    except OSError:
        return {"kind": "unknown", "size": stat.st_size}


def found_key(state: dict) -> str | None:
    """`file_key` of a path as `FileAccess.found` kept it (None: too large to have been kept)."""
    kind = state.get("kind")
    if kind == "file":
        return hashlib.sha256(state["data"]).hexdigest()
    return kind if kind in ("missing", "dir") else None


def literal_paths(bodies: list[str]) -> list[str]:
    """The plain string constants of a step's code that could name a path (`'data/t.parquet'`)."""
    import ast

    found: dict[str, None] = {}
    for body in bodies:
        try:
            tree = ast.parse(body)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if 0 < len(text) <= 300 and "\n" not in text and "\0" not in text and text not in (".", ".."):
                    found[text] = None
    return list(found)


_ACTIVE: FileAccess | None = None
_HOOKED = False


def _hook(event: str, args: tuple) -> None:
    access = _ACTIVE
    if access is None:
        return
    if event == "open":
        path, mode, flags = (args + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        truncates = (isinstance(mode, str) and "w" in mode) or \
            (mode is None and isinstance(flags, int) and bool(flags & os.O_TRUNC))
        access.note(path, "write" if writing else "read", truncates=truncates)
    elif event in ("os.rename", "os.replace"):
        access.note(args[0], "write")
        access.note(args[1], "write")
    elif event in ("os.remove", "os.unlink", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate",
                   "shutil.copyfile", "shutil.copytree", "shutil.move"):
        access.note(args[0], "write")
        if event in ("shutil.copyfile", "shutil.copytree", "shutil.move") and len(args) > 1:
            access.note(args[1], "write")
    elif event in ("os.listdir", "os.scandir"):
        access.note(args[0] if args and args[0] is not None else ".", "read")


def watch(access: FileAccess | None) -> None:
    """Start (or, with None, stop) noting the running step's file accesses."""
    global _ACTIVE, _HOOKED
    if not _HOOKED and access is not None:
        sys.addaudithook(_hook)  # once per process: audit hooks cannot be removed
        _HOOKED = True
    _ACTIVE = access


def file_key(path: str) -> str:
    """The content hash of a file for a cache key ('missing', 'dir' for those)."""
    if os.path.isdir(path):
        return "dir"
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except FileNotFoundError:
        return "missing"


def state_of(base: str, rel: str, access: Access, incoming: dict | None) -> dict:
    """What a step hands on for a path: the content it wrote, or what it found."""
    full = os.path.join(base, rel)
    if access == "read" and incoming is not None:
        return incoming
    if os.path.isdir(full):  # what it lists is what a later os.listdir or os.walk sees
        return {"kind": "dir", "names": sorted(os.listdir(full))}
    if not os.path.exists(full):
        return {"kind": "missing"}
    if access == "read":  # never written by the notebook: its content is a fact of the outside world
        return {"kind": "external", "hash": file_key(full)}
    with open(full, "rb") as fh:
        return {"kind": "file", "data": fh.read()}


def materialize(base: str, rel: str, state: dict) -> None:
    """Make the path what an earlier step left it (a worker elsewhere, or a step that ran in between)."""
    full = os.path.join(base, rel)
    kind = state.get("kind")
    if kind == "dir":
        os.makedirs(full, exist_ok=True)
    elif kind == "missing":
        if os.path.isdir(full):
            import shutil

            shutil.rmtree(full, ignore_errors=True)
        elif os.path.exists(full):
            os.remove(full)
    elif kind == "file":
        data = state["data"]
        try:
            with open(full, "rb") as fh:
                if fh.read() == data:
                    return
        except OSError:
            pass
        os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
