"""The vocabulary every layer and front end shares: statuses, their looks, record shapes, JSON.

Statuses are defined here once. The CLI, the text views, the run panel, the
REST API and the JupyterLab extension read them from here (the extension gets
them in the REST responses; a test checks `states.ts` and the CSS agree).
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypedDict, get_args

__all__ = [
    "CARRIED_RANDOM",
    "CARRIED_SETTINGS",
    "StepStatus",
    "RunStatus",
    "DisplayStatus",
    "STEP_STATUSES",
    "RUN_STATUSES",
    "FINISHED",
    "DONE",
    "LOOKS",
    "STATUS_ORDER",
    "StateLook",
    "look_of",
    "RUN_LOOKS",
    "looks_json",
    "ErrorInfo",
    "finite_number",
    "to_json",
    "cell_number",
]

StepStatus = Literal["pending", "running", "succeeded", "reused", "failed", "skipped", "cancelled"]
RunStatus = Literal["running", "succeeded", "failed", "cancelled", "interrupted"]
DisplayStatus = Literal[StepStatus, "notrun", "excluded"]

STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
FINISHED: tuple[StepStatus, ...] = ("succeeded", "reused", "failed", "skipped", "cancelled")
"""Step statuses that no longer change."""
DONE: tuple[StepStatus, ...] = ("succeeded", "reused")
"""Step statuses whose outputs later steps can load."""


class StateLook(TypedDict):
    icon: str
    label: str
    color: str


LOOKS: dict[DisplayStatus, StateLook] = {
    "pending": {"icon": "·", "label": "pending", "color": "#8c959f"},
    "running": {"icon": "▶", "label": "running", "color": "#1f6feb"},
    "succeeded": {"icon": "✓", "label": "succeeded", "color": "#1a7f37"},
    "reused": {"icon": "↺", "label": "reused", "color": "#8250df"},
    "failed": {"icon": "✗", "label": "failed", "color": "#cf222e"},
    "skipped": {"icon": "⤼", "label": "skipped", "color": "#9a6700"},
    "cancelled": {"icon": "■", "label": "cancelled", "color": "#57606a"},
    "notrun": {"icon": "○", "label": "not run yet", "color": "#8c959f"},
    "excluded": {"icon": "–", "label": "not in this run", "color": "#afb8c1"},
}
"""Icon, label and colour of each status: the text views, the panel's CSS and `states.ts` agree with this."""


STATUS_ORDER: tuple[DisplayStatus, ...] = (
    "failed", "running", "pending", "cancelled", "skipped", "notrun", "succeeded", "reused", "excluded")
"""Precedence of step statuses, most telling first: a node that stands for several steps (a collapsed
module) shows the first status here that any of them has. Any failed: failed; else any running:
running; else any still to run; ...; some succeeded and the rest reused: succeeded; all reused: reused.
The module's binding node counts only when it did not succeed (it runs no task).
Every layout (`panel.layout`) carries it as `status_order`, so the front ends agree."""


RUN_LOOKS: dict[str, StateLook] = {
    **{status: LOOKS[status] for status in ("running", "succeeded", "failed", "cancelled")},
    "interrupted": {"icon": "⚡", "label": "interrupted", "color": LOOKS["cancelled"]["color"]},
}
"""The look of each run status (`RunStatus`): a run can also be `interrupted`, a step cannot."""


def looks_json() -> dict[str, StateLook]:
    """Every look a front end draws, by status (steps' and runs'): what the widgets and the REST API send."""
    return {**{k: dict(v) for k, v in LOOKS.items()}, **{k: dict(v) for k, v in RUN_LOOKS.items()}}  # type: ignore[misc]


def look_of(status: str | None) -> StateLook:
    """The look of a status; an unknown one reads as itself with a `?`."""
    look = LOOKS.get(status or "notrun")  # type: ignore[call-overload]
    if look is None:
        return {"icon": "?", "label": str(status), "color": LOOKS["excluded"]["color"]}
    return look


class ErrorInfo(TypedDict, total=False):
    """A step's error as data: what the run record, the panel and the REST API carry."""

    ename: str
    evalue: str
    traceback: str | None
    cell: int | None
    role: Literal["parameters", "load", "shared", "step", "save", "internal"] | None


def cell_number(index: int) -> int:
    """How a person counts a notebook cell: from 1, as JupyterLab does (its status bar, `Cell In [..]`
    aside). Data (errors' `cell`, plans' `cells`, JSON) keeps the index from 0; every message says this."""
    return index + 1


def finite_number(value: Any) -> float | None:
    """A number for JSON: None for what is not one (`float()` refuses it), and for NaN and infinities."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_json(value: Any) -> Any:
    """Plain JSON: tuples and sets become lists, NaN and infinities null, numpy scalars numbers,
    anything else unknown its str()."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars (and one-element arrays)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):
            return str(value)
        if plain is not value:
            return to_json(plain)
    return str(value)


CARRIED_RANDOM = ("@random", "@numpy.random", "@torch.random")
"""Random generators carried from step to step: read only by the steps that draw or seed."""
CARRIED_SETTINGS = ("@environ", "@cwd", "@sys.path", "@pandas.options", "@numpy.printoptions",
                    "@sklearn.config", "@warnings.filters", "@recursionlimit", "@code")
"""Process settings carried from step to step: every step after one that changes them reads them."""
