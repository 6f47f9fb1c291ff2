"""Tracebacks for people: a failing cell's error as data, and the plain text shown for it.

A step's error is read by people who wrote the notebook, not the machinery that
ran it: frames of papermill, IPython and jupyter_mlpipe are left out, and cells
are named by their number in the user's notebook. The in-process engine records
an error as data with `describe_error` (kept in ``metadata["mlpipe"]["error"]``
of the failing cell) and `format_user_traceback` renders it; for a notebook run
by a kernel, it cleans IPython's traceback text instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict
from ..vocab import cell_number

__all__ = [
    "ErrorRecord",
    "describe_error",
    "exception_chain",
    "format_user_traceback",
    "is_clean_exit",
    "is_internal",
    "safe_str",
]

Link = Literal["cause", "context"]


class ErrorRecord(TypedDict):
    """A cell's error as data (``metadata["mlpipe"]["error"]``): chained exceptions, oldest first."""

    ename: str
    evalue: str
    chain: list[dict[str, Any]]


def format_user_traceback(nb: Mapping[str, Any]) -> str | None:
    """The plain-text traceback of the first failing cell of an executed notebook, or None.

    Frames in cells read ``cell N, line L``: N is the cell's
    ``metadata["mlpipe"]["cell"]`` (the index in the original notebook) when
    set, else its index in the executed notebook. Only the user's frames and
    library frames are shown, never papermill's, IPython's or jupyter_mlpipe's
    machinery. A notebook run by a kernel (not by this engine) gets a
    best-effort rendering of IPython's traceback text.
    """
    cells = [c for c in nb["cells"] if _PAPERMILL_MARKER not in c.get("metadata", {}).get("tags", ())]
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("mlpipe")
        error = meta.get("error") if isinstance(meta, dict) else None
        if error:
            return _render_error(error)
        for output in cell.get("outputs", ()):
            if output.get("output_type") == "error" and not is_clean_exit(
                output.get("ename"), output.get("evalue")
            ):
                return _render_ipython_text(cells, output)
    return None


def safe_str(value: Any) -> str:
    """str(value), or a placeholder when the value's own __str__ raises."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - any error of the user's __str__; the placeholder says so
        return f"<unprintable {type(value).__name__} object>"


def is_clean_exit(ename: object, evalue: object) -> bool:
    """papermill's rule: sys.exit() or sys.exit(0) ends a notebook without an error."""
    return ename == "SystemExit" and evalue in ("", "0")


def exception_chain(error: BaseException) -> list[tuple[BaseException, Link | None]]:
    """Oldest first; the link says how each exception follows the one before it."""
    chain: list[list[Any]] = []
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append([exc, None])
        if exc.__cause__ is not None:
            chain[-1][1], exc = "cause", exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            chain[-1][1], exc = "context", exc.__context__
        else:
            exc = None
    chain.reverse()
    return [(exc, link) for exc, link in chain]


def describe_error(
    error: BaseException,
    *,
    cell_of_file: Callable[[str | None], int | None],
    raw_line: Callable[[str, int | None], str | None],
) -> ErrorRecord:
    """The traceback as data: chained exceptions, user and library frames only.

    ``cell_of_file(filename)`` is the notebook cell a compiled cell's file name
    stands for (None: not a cell); ``raw_line(filename, lineno)`` the line as the
    user wrote it.
    """
    import traceback

    chain = []
    for exc, link in exception_chain(error):
        frames = []
        for fs in traceback.extract_tb(exc.__traceback__):
            label = cell_of_file(fs.filename)
            if label is not None:
                code = raw_line(fs.filename, fs.lineno) or fs.line or ""
                frames.append({"cell": label, "line": fs.lineno, "name": fs.name, "code": code})
            elif not is_internal(fs.filename):
                frames.append({"file": fs.filename, "line": fs.lineno, "name": fs.name, "code": fs.line or ""})
        lines = list(traceback.TracebackException(type(exc), exc, None).format_exception_only())
        entry: dict[str, Any] = {"frames": frames, "link": link}
        if isinstance(exc, SyntaxError):
            label = cell_of_file(exc.filename)
            if label is not None and lines and lines[0].lstrip().startswith("File "):
                entry["at"] = {"cell": label, "line": exc.lineno}
                lines = lines[1:]
        text = "".join(lines)
        module = type(exc).__module__ or ""
        if module.split(".")[0] == "jupyter_mlpipe":
            text = text.replace(f"{module}.{type(exc).__qualname__}", type(exc).__qualname__, 1)
        entry["exception"] = text
        chain.append(entry)
    return {"ename": type(error).__name__, "evalue": safe_str(error), "chain": chain}


_internal_dirs: tuple[str, ...] | None = None


def is_internal(filename: str) -> bool:
    """Frames of the machinery that runs the notebook: papermill, IPython, jupyter_mlpipe."""
    global _internal_dirs
    if filename.startswith("<decorator-gen-"):
        return True
    if _internal_dirs is None:
        import importlib.util

        dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
        for name in ("papermill", "IPython"):
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations:
                dirs.extend(spec.submodule_search_locations)
        _internal_dirs = tuple(os.path.realpath(d) + os.sep for d in dirs)
    if filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    return path.startswith(_internal_dirs)


_LINKS = {
    "cause": "The above exception was the direct cause of the following exception:",
    "context": "During handling of the above exception, another exception occurred:",
}


def _render_error(error: dict) -> str:
    parts: list[str] = []
    for i, entry in enumerate(error.get("chain", ())):
        if i and entry.get("link") in _LINKS:
            parts.append(f"\n{_LINKS[entry['link']]}\n\n")
        frames = entry.get("frames", ())
        if frames:
            parts.append("Traceback (most recent call last):\n")
        for frame in frames:
            if "cell" in frame:
                where = f"  cell {cell_number(frame['cell'])}, line {frame['line']}"
                if frame.get("name") != "<module>":
                    where += f", in {frame['name']}"
            else:
                where = f"  File \"{frame['file']}\", line {frame['line']}, in {frame['name']}"
            parts.append(where + "\n")
            if frame.get("code"):
                parts.append(f"    {frame['code'].strip()}\n")
        at = entry.get("at")
        if at:
            parts.append(f"  cell {cell_number(at['cell'])}, line {at['line']}\n")
        parts.append(entry.get("exception", ""))
    text = "".join(parts).rstrip("\n")
    return text or f"{error.get('ename')}: {error.get('evalue')}"


_PAPERMILL_MARKER = "papermill-error-cell-tag"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_IPYTHON_CELL = re.compile(r"Cell In\[(\d+)\], line (\d+)")
_IPYTHON_HEADER = re.compile(r"^-{5,}\n(\S+)\s+Traceback \(most recent call last\)", re.MULTILINE)
_IPYTHON_FILE = re.compile(r"^File (.+?):\d+(, in .*)?$")


def _render_ipython_text(cells: list, output: Mapping[str, Any]) -> str:
    """Best effort for notebooks run by a kernel: IPython's traceback text, cleaned."""
    labels: dict[int, int] = {}
    for index, cell in enumerate(cells):
        count = cell.get("execution_count")
        if cell.get("cell_type") == "code" and count is not None:
            meta = cell.get("metadata", {}).get("mlpipe")
            label = meta.get("cell") if isinstance(meta, dict) else None
            labels[count] = label if isinstance(label, int) else index
    text = _ANSI.sub("", "\n".join(output.get("traceback", ())))
    text = _IPYTHON_HEADER.sub("Traceback (most recent call last):", text)
    blocks = []
    for block in text.split("\n\n"):
        first = block.strip("\n").split("\n", 1)[0]
        match = _IPYTHON_FILE.match(first)
        if match and is_internal(match.group(1)):
            continue
        blocks.append(block)
    text = "\n\n".join(blocks)

    def relabel(m: re.Match) -> str:
        count = int(m.group(1))
        return f"cell {cell_number(labels[count])}, line {m.group(2)}" if count in labels else m.group(0)

    text = _IPYTHON_CELL.sub(relabel, text).strip("\n")
    return text or f"{output.get('ename')}: {output.get('evalue')}"
