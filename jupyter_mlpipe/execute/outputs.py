"""Where a running notebook's outputs go: sys.stdout/sys.stderr streams and nbformat output nodes.

The in-process engine runs the user's code in its own process, so whatever that
code prints or displays must be caught and turned into outputs of the running
cell, as a kernel would. While the engine runs a notebook, an `OutputSink` (the
notebook's run) is *current*: the two streams below and the shell's display
hooks hand it their output; outside a run they fall back to what they replaced.
nbformat is imported on first use.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol, TextIO

__all__ = [
    "OutputSink",
    "StreamName",
    "Stream",
    "capturing",
    "clean_metadata",
    "clean_mimebundle",
    "current_sink",
    "node",
    "streams",
    "write_original",
]

StreamName = Literal["stdout", "stderr"]


class OutputSink(Protocol):
    """What receives a running notebook's outputs (the engine's `NotebookRun`)."""

    def stream(self, name: StreamName, text: str) -> bool:
        """Append printed text to the running cell; False when no cell has run yet."""

    def flush_output(self) -> None:
        """Hand on text held back waiting for a newline."""

    def display(self, data: dict, metadata: dict, transient: dict, update: bool) -> None:
        """display() / update_display(): a display_data output."""

    def execute_result(self, data: dict, metadata: dict, count: int) -> None:
        """The value of a cell's last expression."""

    def error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        """A traceback IPython shows."""

    def clear_output(self, wait: bool) -> None:
        """clear_output(), now or at the next output."""


_sink: OutputSink | None = None  # the notebook being executed, if any
_stdout: Stream | None = None
_stderr: Stream | None = None


def current_sink() -> OutputSink | None:
    """The notebook being executed in this process, if any."""
    return _sink


@contextlib.contextmanager
def capturing(sink: OutputSink) -> Iterator[None]:
    """Make `sink` receive every output of this process for a while."""
    global _sink
    _sink = sink
    try:
        yield
    finally:
        _sink = None


class Stream:
    """sys.stdout/sys.stderr while a notebook runs: text goes to the running cell's outputs.

    The same two objects serve every notebook, so a logging handler made in
    one notebook writes into the cell running later; outside a run they write
    to the stream they replaced.
    """

    encoding = "utf-8"
    errors = "strict"
    closed = False

    def __init__(self, name: StreamName, fallback: TextIO) -> None:
        self.name: StreamName = name
        self.fallback = fallback

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        sink = _sink
        if sink is None or not sink.stream(self.name, text):
            self.fallback.write(text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        sink = _sink
        if sink is not None:
            sink.flush_output()
        else:
            with contextlib.suppress(Exception):  # a closed or broken fallback: nothing to flush
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


def streams(out: TextIO, err: TextIO) -> tuple[Stream, Stream]:
    """The process's two capturing streams, falling back to `out` and `err` outside a run."""
    global _stdout, _stderr
    if _stdout is None or _stderr is None:
        _stdout, _stderr = Stream("stdout", out), Stream("stderr", err)
    if not isinstance(out, Stream):
        _stdout.fallback = out
    if not isinstance(err, Stream):
        _stderr.fallback = err
    return _stdout, _stderr


def write_original(text: str) -> None:
    """Write to the process's real stderr (not into the running cell); never raises."""
    stream = _stderr.fallback if _stderr is not None else sys.__stderr__
    with contextlib.suppress(Exception):  # stderr closed or gone: there is nowhere else to say it
        stream.write(text)


def node(**fields: Any) -> Any:
    """An nbformat NotebookNode (an output) from its fields."""
    from nbformat.notebooknode import from_dict

    return from_dict(fields)


def clean_mimebundle(data: dict) -> dict:
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


def clean_metadata(metadata: object) -> dict:
    """Output metadata as a plain dict (anything else a library passes becomes empty)."""
    return dict(metadata) if isinstance(metadata, dict) else {}
