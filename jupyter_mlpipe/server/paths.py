"""Confine request paths to the server's root directory.

Every notebook path the REST API receives is relative to the Jupyter server's
root (`root_dir`, what the file browser shows). Absolute paths, `..` segments
and symlinks that lead out of the root are refused, so the API cannot be used
to plan, run or read anything the server does not serve.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import ApiError

__all__ = ["NotebookPath", "resolve_notebook", "relative_to_root", "inside", "scrub"]

_PATH_HINT = "Pass the notebook's path relative to the Jupyter root, as the file browser shows it: ?path=folder/nb.ipynb."


class NotebookPath:
    """A notebook path checked against the root: `relative` (as given, normalised) and `real` (resolved)."""

    def __init__(self, relative: str, real: Path) -> None:
        self.relative = relative
        self.real = real

    def __repr__(self) -> str:
        return f"NotebookPath({self.relative!r})"


def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when `path` (resolved, symlinks followed) is `root` or below it."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def relative_to_root(path: str | os.PathLike | None, root: str | os.PathLike) -> str | None:
    """`path` relative to the root with '/' separators, or None when it is not inside the root."""
    if not path:
        return None
    real, base = os.path.realpath(path), os.path.realpath(root)
    if not inside(real, base):
        return None
    return PurePosixPath(*Path(os.path.relpath(real, base)).parts).as_posix()


def scrub(text: str | None, root: str | os.PathLike) -> str | None:
    """Error text with the root's absolute path taken out (paths inside it become relative)."""
    if not text:
        return text
    base = os.path.realpath(root).rstrip(os.sep)
    given = os.fspath(root).rstrip(os.sep)
    for prefix in {base, given} - {""}:
        text = text.replace(prefix + os.sep, "").replace(prefix, ".")
    return text


def resolve_notebook(root: str | os.PathLike, path: object, *, allow_hidden: bool = False,
                     must_exist: bool = True) -> NotebookPath:
    """Check a client-supplied notebook path; raise ApiError (400/403/404) when it is refused."""
    if not isinstance(path, str) or not path.strip():
        raise ApiError(400, "Missing notebook path.", hint=_PATH_HINT, error="BadPath")
    if "\x00" in path:
        raise ApiError(400, f"The path {path!r} contains a NUL character.", hint=_PATH_HINT, error="BadPath")
    if path.startswith(("/", "\\", "~")) or PureWindowsPath(path).drive or os.path.isabs(path):
        raise ApiError(403, f"Absolute paths are refused: {path!r}.", hint=_PATH_HINT, error="PathOutsideRoot")
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if ".." in parts:
        raise ApiError(403, f"The path {path!r} leaves the Jupyter root ('..' is refused).", hint=_PATH_HINT,
                       error="PathOutsideRoot")
    if not allow_hidden and any(part.startswith(".") for part in parts):
        raise ApiError(403, f"The path {path!r} goes through a hidden file or folder, which this server "
                       "does not serve.", hint="Move the notebook out of the hidden folder, or start "
                       "Jupyter with --ContentsManager.allow_hidden=True.", error="HiddenPath")
    relative = PurePosixPath(*parts).as_posix()
    if not relative.endswith(".ipynb"):
        raise ApiError(400, f"{relative!r} is not a notebook: the path must end with .ipynb.",
                       hint=_PATH_HINT, error="NotANotebook")
    base = Path(os.path.realpath(root))
    candidate = base.joinpath(*parts)
    real = Path(os.path.realpath(candidate))
    if not inside(real, base):
        raise ApiError(403, f"{relative!r} resolves outside the Jupyter root (a symbolic link?); "
                       "it is refused.", hint="Copy the notebook into the root instead of linking to it.",
                       error="PathOutsideRoot")
    if must_exist and not real.is_file():
        raise ApiError(404, f"No notebook at {relative!r} (relative to the Jupyter root).",
                       hint="Check the path; save the notebook first if it is new.", error="NotFound")
    return NotebookPath(relative, real)
