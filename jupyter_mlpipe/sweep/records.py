"""Recorded sweeps read back: a notebook's sweeps, one sweep with its trials, its trials as a runs table."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import RunNotFound
from ..queries import ResultTable, notebook_key, recorded_run, result_table
from ..store.paths import open_history
from ..store.sweeps import SweepRecord, TrialRecord

if TYPE_CHECKING:
    from ..store.history import History

__all__ = ["NO_SWEEPS_HINT", "best_trial", "find_sweep", "list_sweeps", "trial_table", "sweep_summary"]

NO_SWEEPS_HINT = "Start one: mlpipe sweep NOTEBOOK -p NAME=A,B --metric METRIC --goal max."


def best_trial(record: SweepRecord) -> TrialRecord | None:
    """The succeeded trial with the best metric by the sweep's goal (the record's `best_run_id` when known)."""
    done = [t for t in record.get("trials") or [] if t.get("status") == "succeeded" and t.get("metric") is not None]
    if not done:
        return None
    pick = max if record.get("goal") == "max" else min
    return pick(done, key=lambda t: float(t["metric"]))  # type: ignore[arg-type]


def sweep_summary(record: SweepRecord) -> dict[str, Any]:
    """A recorded sweep as `mlpipe sweep --json` prints it: {"sweep_id", "best": {...}, "trials": [...], ...}."""
    best = best_trial(record)
    options = record.get("options") or {}
    return {
        "sweep_id": record["id"], "notebook": record.get("notebook"), "status": record.get("status"),
        "metric": record.get("metric"), "goal": record.get("goal"), "search": record.get("search"),
        "space": record.get("space"), "fixed": record.get("fixed"),
        "best": None if best is None else {"run_id": best.get("run_id"), "params": best.get("params"),
                                           "metric": best.get("metric"), "number": best.get("number")},
        "trials": [{k: t.get(k) for k in ("number", "run_id", "params", "status", "metric", "points", "error")}
                   for t in record.get("trials") or []],
        "shared_run_id": record.get("shared_run_id"), "shared_steps": options.get("shared_steps") or [],
        "steps_saved": record.get("steps_saved"), "error": record.get("error"),
    }


def list_sweeps(path: str | os.PathLike, limit: int = 20) -> list[SweepRecord]:
    """A notebook's sweeps, newest first (without trials); [] before its first."""
    try:
        history, _ = open_history(path, hint=NO_SWEEPS_HINT)
    except RunNotFound:
        return []
    with history:
        return history.sweeps.recent(notebook_key(path), limit=limit)


def find_sweep(path: str | os.PathLike, text: str) -> SweepRecord:
    """One sweep of a notebook by its id or a unique part (its last six characters), with its trials."""
    history, _ = open_history(path, hint=NO_SWEEPS_HINT)
    with history:
        return history.sweeps.get(history.sweeps.resolve(notebook_key(path), text))


def trial_table(history: History, record: SweepRecord) -> ResultTable:
    """The trials' runs as the runs table shows runs: parameters, metrics, the sweep's metric as the result
    column, best first."""
    records = []
    for trial in record.get("trials") or []:
        if trial.get("run_id"):
            try:
                records.append(recorded_run(history, trial["run_id"]))
            except RunNotFound:  # forgotten by mlpipe gc
                continue
    order = "desc" if record.get("goal") == "max" else "asc"
    metric = record.get("metric")
    known = any(metric and (k == metric or k.endswith(f".{metric}"))
                for r in records for step, names in (r.get("metrics") or {}).items()
                for k in (f"{step}.{n}" for n in names))
    if not known:
        return result_table(records)
    return result_table(records, metric=metric, sort="", order=order)  # type: ignore[arg-type]
