"""Sweeps in the run history: a sweep's space, metric and goal, its trials (each a run) and the best one.

A trial is a pipeline run like any other (it is in `runs`, with its steps and
metrics); the sweep's tables add what only a sweep knows: which runs belong to
it, with which parameters, how each trial ended (a trial stopped early by the
sweep is `stopped`, its run `cancelled`), the metric it reached, and how many
step runs sharing the steps that read no swept parameter saved.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any, Literal, TypedDict, cast

from ..errors import MlpipeError
from .schema import dump_json, row_dict
from .sql import Transactions

__all__ = ["SweepRecord", "SweepStatus", "SweepStore", "TrialRecord", "TrialStatus", "TRIAL_STATUSES",
           "new_sweep_id"]

SweepStatus = Literal["running", "succeeded", "failed", "cancelled"]
TrialStatus = Literal["pending", "running", "succeeded", "failed", "stopped", "cancelled"]
TRIAL_STATUSES: tuple[TrialStatus, ...] = ("pending", "running", "succeeded", "failed", "stopped", "cancelled")
"""`stopped`: ended early by the sweep's early-stopping rule (its metric was behind), not a failure."""

_SWEEP_JSON = ("space", "options", "fixed")
_TRIAL_JSON = ("params",)


class TrialRecord(TypedDict, total=False):
    sweep_id: str
    number: int  # 1, 2, ... in the order trials started
    trial_id: str  # Ray Tune's id of the trial
    run_id: str | None
    params: dict[str, Any]
    status: TrialStatus
    metric: float | None  # the metric's last value in this trial's run
    points: int  # how many points of the metric it logged
    started: float | None
    ended: float | None
    error: str | None


class SweepRecord(TypedDict, total=False):
    id: str
    notebook: str
    started: float
    ended: float | None
    status: SweepStatus
    metric: str
    goal: Literal["min", "max"]
    search: str
    space: dict[str, Any]
    fixed: dict[str, Any]  # the parameters every trial shares (defaults and plain -p values)
    options: dict[str, Any]  # trials, parallel, seed, early_stop
    shared_run_id: str | None  # the run of the steps that read no swept parameter, once for all trials
    steps_saved: int | None
    best_run_id: str | None
    best_metric: float | None
    error: str | None
    trials: list[TrialRecord]


def new_sweep_id() -> str:
    """A sortable, unique id like a run's, marked as a sweep's: `sweep-20250101-120000-3f9a1c`."""
    return "sweep-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


class SweepStore:
    """The sweeps of one run history."""

    def __init__(self, history: Transactions) -> None:
        self._history = history

    def start(self, sweep_id: str, *, notebook: str, metric: str, goal: str, search: str, space: dict[str, Any],
              fixed: dict[str, Any], options: dict[str, Any]) -> None:
        row = (sweep_id, notebook, time.time(), "running", metric, goal, search, dump_json(space),
               dump_json(fixed), dump_json(options))
        self._history.write_transaction(lambda c: c.execute(
            "INSERT INTO sweeps (id, notebook, started, status, metric, goal, search, space, fixed, options)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row))

    def update(self, sweep_id: str, **fields: Any) -> None:
        """Change some of a sweep's fields (status, ended, shared_run_id, steps_saved, best_*, error)."""
        allowed = ("status", "ended", "shared_run_id", "steps_saved", "best_run_id", "best_metric", "error")
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise TypeError(f"SweepStore.update() got unknown field(s) {unknown}; known: {list(allowed)}.")
        cols = list(fields)
        sql = f"UPDATE sweeps SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        self._history.write_transaction(lambda c: c.execute(sql, (*[fields[c] for c in cols], sweep_id)))

    def record_trial(self, sweep_id: str, trial: TrialRecord) -> None:
        """Insert or update one trial (by its number)."""
        cols = [c for c in ("trial_id", "run_id", "params", "status", "metric", "points", "started", "ended",
                            "error") if c in trial]
        values = [dump_json(trial[c]) if c in _TRIAL_JSON else trial[c] for c in cols]  # type: ignore[literal-required]
        names = ", ".join(["sweep_id", "number", *cols])
        update = ", ".join(f"{c} = excluded.{c}" for c in cols)
        sql = (f"INSERT INTO sweep_trials ({names}) VALUES ({', '.join('?' * (len(cols) + 2))})"
               f" ON CONFLICT (sweep_id, number) DO UPDATE SET {update}")
        self._history.write_transaction(lambda c: c.execute(sql, (sweep_id, trial["number"], *values)))

    def get(self, sweep_id: str) -> SweepRecord:
        """One sweep with its trials (in their order); MlpipeError when there is none."""

        def read(c: sqlite3.Connection) -> tuple[Any, list[Any]]:
            row = c.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
            trials = c.execute("SELECT * FROM sweep_trials WHERE sweep_id = ? ORDER BY number",
                               (sweep_id,)).fetchall()
            return row, trials

        row, trials = self._history.read_transaction(read)
        if row is None:
            raise MlpipeError(f"No sweep {sweep_id!r} in this history.",
                              hint="List the sweeps: mlpipe sweeps NOTEBOOK.")
        record = cast(SweepRecord, row_dict(row, _SWEEP_JSON))
        record["trials"] = [cast(TrialRecord, row_dict(t, _TRIAL_JSON)) for t in trials]
        return record

    def recent(self, notebook: str | None = None, limit: int = 50) -> list[SweepRecord]:
        """The sweeps (of a notebook), newest first, without their trials."""
        sql, args = "SELECT * FROM sweeps", []
        if notebook is not None:
            sql, args = sql + " WHERE notebook = ?", [notebook]
        sql += " ORDER BY started DESC LIMIT ?"
        rows = self._history.read_transaction(lambda c: c.execute(sql, [*args, int(limit)]).fetchall())
        return [cast(SweepRecord, row_dict(r, _SWEEP_JSON)) for r in rows]

    def resolve(self, notebook: str | None, text: str) -> str:
        """A sweep id from what a user typed: the whole id or a unique part (its last six characters)."""
        text = str(text).strip()
        ids = [s["id"] for s in self.recent(notebook, limit=10_000)]
        if text in ids:
            return text
        matches = [i for i in ids if text and (i.endswith(text) or i.startswith(text))]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise MlpipeError(f"{text!r} matches {len(matches)} sweeps: {', '.join(matches[:5])}.",
                              hint="Give more of the id.")
        listed = ", ".join(i[-6:] for i in ids[:5]) or "none yet"
        raise MlpipeError(f"No sweep {text!r} of this notebook. Its newest sweeps: {listed}.",
                          hint="Start one: mlpipe sweep NOTEBOOK -p NAME=A,B --metric M --goal max.")
