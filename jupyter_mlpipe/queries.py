"""Choosing runs from the history and saying what differs between two of them.

The widget (`%pipeline runs`), the text table (`mlpipe runs`, a terminal IPython)
and `compare()` share these, so that every front end shows the same rows and the
same differences (`panel.state.run_row` / `compare_runs` build them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import MlpipeError, RunNotFound
from .store.ids import _LIST_RUNS_HINT

__all__ = [
    "compare",
    "compare_records",
    "oldest_first",
    "original_metrics",
    "recorded_run",
    "recorded_runs",
    "resolve_pair",
    "resolve_run_id",
    "with_reused_metrics",
]

_SEARCH_LIMIT = 10_000  # runs looked at when a short id is resolved


def recorded_run(history: Any, run_id: str) -> dict[str, Any]:
    """One run in full (a `History.get_run` record) without its plan, which tables do not need.

    A reused step logged nothing in this run: it gets the metrics of the run that made its
    outputs, so that comparing a run with a reused step compares what the step produced.
    """
    record = history.get_run(run_id)
    record.pop("plan", None)
    return with_reused_metrics(history, record)


def with_reused_metrics(history: Any, record: dict[str, Any]) -> dict[str, Any]:
    """`record` (a `History.get_run` dict), its reused steps given their original metrics in place."""
    metrics = record.setdefault("metrics", {})
    for name, step in (record.get("steps") or {}).items():
        if name in metrics:
            continue
        for point in original_metrics(history, name, step.get("status"), step.get("reason")):
            metrics.setdefault(name, {}).setdefault(point["name"], []).append(
                (point["step_index"], point["value"], point["ts"]))
    return record


def original_metrics(history: Any, step: str, status: str | None, reason: dict | None) -> list[dict[str, Any]]:
    """The metric points a reused step logged in the run that made its outputs (`History.metrics` rows)."""
    source = (reason or {}).get("from_run") if status == "reused" else None
    if not source:
        return []
    try:
        return history.metrics(source, step=step)
    except RunNotFound:  # a malformed id in an old record
        return []


def recorded_runs(history: Any, notebook: str | None, *, limit: int = 30) -> list[dict[str, Any]]:
    """The newest runs of a notebook in full, newest first."""
    records = []
    for item in history.list_runs(notebook, limit=limit):
        try:
            records.append(recorded_run(history, item["id"]))
        except RunNotFound:  # forgotten (mlpipe gc) meanwhile
            continue
    return records


def resolve_run_id(history: Any, notebook: str | None, text: str) -> str:
    """A run id from what a user typed: the whole id, or a unique part of it (`3f9a1c`, `052050-3f9a1c`).

    Runs of other notebooks in the same history are not matched by a part.
    """
    text = str(text).strip()
    ids = [item["id"] for item in history.list_runs(notebook, limit=_SEARCH_LIMIT)]
    if text in ids:
        return text
    matches = [run_id for run_id in ids if text and (run_id.endswith(text) or run_id.startswith(text))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        where = " of this notebook" if notebook else f" in {history.path}"
        known = f" The newest are: {', '.join(ids[:3])}." if ids else " There are no runs yet."
        raise RunNotFound(f"No run {text!r}{where}.{known}", hint=_LIST_RUNS_HINT)
    shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
    raise RunNotFound(f"{text!r} matches {len(matches)} runs ({shown}).",
                      hint="Give more of the id: its last six characters are unique.")


def compare(path: str | os.PathLike, run_a: str, run_b: str) -> dict[str, Any]:
    """What differs between two runs of a notebook: parameters, metrics' last values, which steps ran.

    `run_a` and `run_b` are run ids or unique parts of them, in either order; the result reads
    from the older run to the newer one:
    {a, b, params: {name: [a, b]}, metrics: {step.name: [a, b, b - a]}, steps: {step: [a, b]},
    steps_differ: [step, ...]}.
    """
    from .store.paths import open_history

    history, _ = open_history(path, hint="Run the notebook first: %pipeline run, or mlpipe run NOTEBOOK.")
    a, b = resolve_pair(history, str(Path(path).resolve()), run_a, run_b)
    return compare_records(recorded_run(history, a), recorded_run(history, b))


def resolve_pair(history: Any, notebook: str | None, run_a: str, run_b: str) -> tuple[str, str]:
    """The two run ids a comparison is asked for; the same run twice is an error."""
    a, b = (resolve_run_id(history, notebook, r) for r in (run_a, run_b))
    if a == b:
        raise MlpipeError(f"{run_a!r} and {run_b!r} are the same run ({a}).", hint="Give two different runs.")
    return a, b


def compare_records(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What differs between two `recorded_run` records, read from the older to the newer."""
    from .panel.state import compare_runs, run_row

    return compare_runs(*oldest_first(run_row(a), run_row(b)))


def oldest_first(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs (rows or records) in the order a comparison reads: before -> after."""
    first, second = sorted((a, b), key=lambda r: (r.get("started") or 0, r["id"]))
    return first, second
