"""A failed step in words and as data: the messages people read, the `ErrorInfo` records keep.

A step can fail in its own code (the worker sends the error back as data), in
jupyter-mlpipe's cells around it (loading inputs, storing outputs), by running
past its --timeout, or because the machinery failed (a dead worker, an
infeasible resource request). Each gets one sentence that says which step, what
happened and what to do; the live run and a run read back from the history
word it the same way.
"""

from __future__ import annotations

import os

from ..vocab import ErrorInfo, cell_number

__all__ = ["crash_message", "error_info", "failure_message", "first_line", "lost_message", "timeout_message"]

# our own exceptions: their message is a whole sentence already
_OWN_ERRORS = ("UnstorableValue", "StepFailed", "ArtifactCorrupt", "ArtifactMissing", "ArtifactWriteError",
               "MlpipeError")


def error_info(ename: str, evalue: str) -> ErrorInfo:
    """The record of an error that has no traceback and no cell (the step's code never raised it)."""
    return {"ename": ename, "evalue": evalue, "traceback": None, "cell": None}


def failure_message(name: str, info: ErrorInfo, notebook_path: str | None) -> str:
    """What people read when step `name` failed with `info` (its cell, error, traceback, notebook)."""
    where = f" in cell {cell_number(info['cell'])}" if info.get("cell") is not None else ""
    if info.get("role") == "save":
        where = " while storing its outputs"
    elif info.get("role") == "load":
        where = " while loading its inputs"
    ename, evalue = info.get("ename"), info.get("evalue")
    if info.get("role") == "internal":  # the machinery around the step's notebook: not the user's code
        text = f"Step {name!r} could not be run: {evalue}"
    elif info.get("role") in ("save", "load") and ename in _OWN_ERRORS:
        text = f"Step {name!r} failed{where}: {evalue}"
    else:
        text = f"Step {name!r} failed{where}: {ename}: {evalue}"
    if info.get("traceback"):
        text += "\n" + str(info["traceback"])
    if notebook_path and os.path.exists(notebook_path):  # never point at a notebook that was not written
        text += f"\nExecuted notebook: {notebook_path}"
    return text


def timeout_message(name: str, timeout: float, info: ErrorInfo | None, *, stuck: bool) -> str:
    """Step `name` ran past --timeout: stopped by its worker (`info` says where), or killed when `stuck`."""
    text = f"Step {name!r} timed out: it ran longer than --timeout {timeout:g} s and was stopped"
    if stuck:
        return text + " (its worker did not respond, so it was killed)."
    where = (info or {}).get("traceback")
    return text + (f". It was here when it was stopped:\n{where}" if where else ".")


def crash_message(name: str, cause: BaseException) -> str:
    """The step task itself raised: a bug of jupyter-mlpipe, not of the step's code."""
    return (f"Step {name!r} could not be run: {type(cause).__name__}: {cause} "
            "(an error of jupyter-mlpipe's step task, not of the step's code).")


def lost_message(name: str, error: BaseException, *, attempts: int, retries: int) -> str:
    """The step's worker process died (`error` is what Ray said: out of memory, node lost, ...)."""
    kind = type(error).__name__
    why = "it ran out of memory" if "OutOfMemory" in kind else kind
    advice = (f"It was retried {retries} time(s)." if retries else
              "Use --retries N on the %%step line to retry when a worker dies.")
    return f"Step {name!r}: its worker process died ({why}) after {max(attempts, 1)} attempt(s). {advice}"


def first_line(error: BaseException) -> str:
    """An exception's message, its first line only (the record's ``evalue``)."""
    return str(error).split("\n")[0]
