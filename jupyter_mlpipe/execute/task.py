"""The step task: what the driver sends to wherever a step runs, and what comes back.

Both are plain data (picklable, JSON-like), so any backend can carry them: a
Ray task on another machine, or a function call in this process. A step's own
failure comes back as data in the result; only a failure of the machinery
around it (a dead worker, a bug of ours) is an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ..vocab import ErrorInfo

if TYPE_CHECKING:  # pragma: no cover
    from nbformat import NotebookNode

__all__ = ["OutputRef", "StepTask", "StepResult"]

OutputRef = dict[str, Any]
"""A stored value's reference, as `ArtifactRef.to_dict()` gives it: digest, variable, step, links, ..."""


class StepTask(TypedDict):
    """One step to execute: its bundle and where to put what it produces."""

    bundle: NotebookNode  # the step's notebook, before papermill injects parameters
    output_path: str  # where the executed notebook is written as cells run
    parameters: dict[str, Any]  # what papermill injects: input references, run id, parameter values
    cwd: str  # the notebook's folder: the step runs there
    started_marker: str  # a line "<time> <pid>" is appended to it per attempt (retries, --timeout)
    timeout: float | None  # --timeout in seconds, None for none
    project: str | None  # the notebook's folder packed in the store, for nodes that lack it (`project.py`)


class StepResult(TypedDict, total=False):
    """What running a step task gave: its outputs, or its error as data."""

    status: Literal["succeeded", "failed"]
    started: float
    ended: float
    outputs: dict[str, OutputRef]  # variable -> reference of its stored value (succeeded)
    learned: dict[str, Any]  # variable -> {"ref", "reason"}: what it defined that the plan did not expect
    warnings: list[str]
    error: ErrorInfo  # (failed)
    touched: list[str]  # (failed) the files it touched, as `@file:PATH` states
    found: dict[str, list[Any]]  # `@file:PATH` -> [when, kind, reference, read|write]: before the step touched it
    metrics: list[dict[str, Any]]  # what it logged where the driver's history was not reachable
    notebook: str  # the executed notebook, when the driver's run folder was not on the step's node
    pid: int
    cuda_visible_devices: str | None
