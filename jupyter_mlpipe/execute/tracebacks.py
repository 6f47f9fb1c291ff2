"""Tracebacks for people: which frames are the user's, and the plain text `format_user_traceback` shows.

Split out of `engine.py`: the engine records a failing cell's error as data
(``metadata["mlpipe"]["error"]``), and this module renders it, or, for a notebook
run by a kernel, cleans IPython's traceback text.
"""

from __future__ import annotations

import os
import re
from typing import Any


def format_user_traceback(nb: Any) -> str | None:
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
            if output.get("output_type") == "error" and not _is_clean_exit(
                output.get("ename"), output.get("evalue")
            ):
                return _render_ipython_text(cells, output)
    return None


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__} object>"


def _is_clean_exit(ename: Any, evalue: Any) -> bool:
    """papermill's rule: sys.exit() or sys.exit(0) ends a notebook without an error."""
    return ename == "SystemExit" and evalue in ("", "0")


def _exception_chain(error: BaseException) -> list[tuple[BaseException, str | None]]:
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


_internal_dirs: tuple[str, ...] | None = None


def _is_internal(filename: str) -> bool:
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
                where = f"  cell {frame['cell']}, line {frame['line']}"
                if frame.get("name") != "<module>":
                    where += f", in {frame['name']}"
            else:
                where = f"  File \"{frame['file']}\", line {frame['line']}, in {frame['name']}"
            parts.append(where + "\n")
            if frame.get("code"):
                parts.append(f"    {frame['code'].strip()}\n")
        at = entry.get("at")
        if at:
            parts.append(f"  cell {at['cell']}, line {at['line']}\n")
        parts.append(entry.get("exception", ""))
    text = "".join(parts).rstrip("\n")
    return text or f"{error.get('ename')}: {error.get('evalue')}"


_PAPERMILL_MARKER = "papermill-error-cell-tag"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_IPYTHON_CELL = re.compile(r"Cell In\[(\d+)\], line (\d+)")
_IPYTHON_HEADER = re.compile(r"^-{5,}\n(\S+)\s+Traceback \(most recent call last\)", re.MULTILINE)
_IPYTHON_FILE = re.compile(r"^File (.+?):\d+(, in .*)?$")


def _render_ipython_text(cells: list, output: Any) -> str:
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
        if match and _is_internal(match.group(1)):
            continue
        blocks.append(block)
    text = "\n\n".join(blocks)

    def relabel(m: re.Match) -> str:
        count = int(m.group(1))
        return f"cell {labels[count]}, line {m.group(2)}" if count in labels else m.group(0)

    text = _IPYTHON_CELL.sub(relabel, text).strip("\n")
    return text or f"{output.get('ename')}: {output.get('evalue')}"
