"""Where a running notebook's outputs go: sys.stdout/sys.stderr streams and nbformat output nodes.

Split out of `engine.py`. `_active` is the notebook being executed (set by the engine
while it runs one): the streams below and the shell's display hooks hand their output
to it. nbformat is imported on first use.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .engine import _Run

_active: _Run | None = None  # the notebook being executed, if any
_stdout: _Stream | None = None
_stderr: _Stream | None = None


class _Stream:
    """sys.stdout/sys.stderr while a notebook runs: text goes to the running cell's outputs.

    The same two objects serve every notebook, so a logging handler made in
    one notebook writes into the cell running later; outside a run they write
    to the stream they replaced.
    """

    encoding = "utf-8"
    errors = "strict"
    closed = False

    def __init__(self, name: str, fallback: Any) -> None:
        self.name = name
        self.fallback = fallback

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        run = _active
        if run is None or not run.stream(self.name, text):
            self.fallback.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        run = _active
        if run is not None:
            run.flush_output()
        else:
            with contextlib.suppress(Exception):
                self.fallback.flush()

    def fileno(self) -> int:
        return self.fallback.fileno()  # the process's own descriptor, as ipykernel does

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _streams(out: Any, err: Any) -> tuple[_Stream, _Stream]:
    global _stdout, _stderr
    if _stdout is None or _stderr is None:
        _stdout, _stderr = _Stream("stdout", out), _Stream("stderr", err)
    if not isinstance(out, _Stream):
        _stdout.fallback = out
    if not isinstance(err, _Stream):
        _stderr.fallback = err
    return _stdout, _stderr


def _write_original(text: str) -> None:
    stream = _stderr.fallback if _stderr is not None else sys.__stderr__
    with contextlib.suppress(Exception):
        stream.write(text)


def _node(**fields: Any) -> Any:
    from nbformat.notebooknode import from_dict

    return from_dict(fields)


def _clean_mimebundle(data: dict) -> dict:
    """JSON-able output data: bytes (a raw `_repr_png_`) become base64 text."""
    import base64

    clean = {}
    for mime, value in data.items():
        if isinstance(value, (bytes, bytearray)):
            if mime.startswith("text/") or mime.endswith(("+xml", "/javascript")):
                value = bytes(value).decode("utf-8", "replace")
            else:
                value = base64.b64encode(bytes(value)).decode("ascii")
        clean[mime] = value
    return clean


def _clean_metadata(metadata: Any) -> dict:
    return dict(metadata) if isinstance(metadata, dict) else {}
