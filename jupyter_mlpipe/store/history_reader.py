"""Reading the run history back: runs, their steps and metrics, cache entries, artifacts.

Every front end (CLI, panel, REST server, Python API) and the executor's reuse
check read the history through these queries, so a run reads the same
everywhere; in particular a 'running' run whose driver died on this host is
reported as 'interrupted' here, whoever asks. Kept apart from `History`, which
owns the SQLite connection and records runs; `History` owns a `HistoryReader`
and offers its methods under the same names.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any, cast

from ..vocab import StepStatus
from .ids import pid_alive, run_not_found, validate_run_id
from .records import (
    INTERRUPTED,
    ArtifactInfo,
    CacheEntry,
    LastStepRun,
    MetricPoint,
    Metrics,
    RunRecord,
    RunSummary,
)
from .schema import CACHE_JSON, RUN_JSON, STEP_JSON, row_dict
from .sql import Transactions, chunks, placeholders

__all__ = ["COMPARED_STATUSES", "HistoryReader"]

COMPARED_STATUSES: tuple[StepStatus, ...] = ("succeeded", "reused", "failed")
"""The step runs `last_step_run` looks at by default: those a step's key is compared against."""


class HistoryReader:
    """The read queries of one run history; it needs only `history`'s transactions, path, host."""

    def __init__(self, history: Transactions) -> None:
        self._history = history

    # ---------------------------------------------------------------- runs

    def list_runs(self, notebook: str | None = None, limit: int = 50, *, pipeline: str | None = None,
                  trigger: str | None = None) -> list[RunSummary]:
        """Runs newest first (without their plan), each with `step_counts` and `duration`.

        `pipeline` keeps the runs of that published pipeline, `trigger` those whose trigger
        has that kind ("schedule", "rest", ...; see `records.Trigger`).

        A 'running' run whose driver pid no longer exists on this host is
        reported as 'interrupted'; the stored status is left alone (see
        `History.mark_interrupted`). `duration` is the elapsed time for a running
        run and None for an interrupted one.
        """
        sql = ("SELECT id, notebook, started, ended, status, params, pid, host, options, pipeline,"
               " pipeline_version, trigger FROM runs")
        where: list[str] = []
        args: list[Any] = []
        for condition, value in (("notebook = ?", notebook), ("pipeline = ?", pipeline),
                                 ("json_extract(trigger, '$.kind') = ?", trigger)):
            if value is not None:
                where.append(condition)
                args.append(value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC LIMIT ?"
        args.append(int(limit))

        def query(c: sqlite3.Connection) -> list[dict[str, Any]]:
            runs = [row_dict(r, RUN_JSON) for r in c.execute(sql, args)]
            counts = _step_counts(c, [r["id"] for r in runs])
            for run in runs:
                run["step_counts"] = counts[run["id"]]
            return runs

        now = time.time()
        runs = self._history.read_transaction(query)
        return [cast(RunSummary, self._present(run, now)) for run in runs]

    def get_run(self, run_id: str) -> RunRecord:
        """One run in full: its fields, `steps` {step: step_run} and `metrics`.

        `metrics` is {step: {name: [(step_index, value, ts), ...]}} in recording
        order. Raises RunNotFound for an unknown or malformed id.
        """
        validate_run_id(run_id)

        def query(c: sqlite3.Connection) -> dict[str, Any]:
            row = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise run_not_found(run_id, self._history.path)
            run = row_dict(row, RUN_JSON)
            steps: dict[str, Any] = {}
            counts: dict[str, int] = {}
            for srow in c.execute(
                "SELECT * FROM step_runs WHERE run_id = ? ORDER BY rowid", (run_id,)
            ):
                srun = row_dict(srow, STEP_JSON)
                steps[srun["step"]] = srun
                counts[srun["status"]] = counts.get(srun["status"], 0) + 1
            metrics: Metrics = {}
            for mrow in c.execute(
                "SELECT step, name, value, step_index, ts FROM metrics WHERE run_id = ?"
                " ORDER BY id",
                (run_id,),
            ):
                value = float("nan") if mrow["value"] is None else mrow["value"]
                metrics.setdefault(mrow["step"], {}).setdefault(mrow["name"], []).append(
                    (mrow["step_index"], value, mrow["ts"])
                )
            run["steps"] = steps
            run["step_counts"] = counts
            run["metrics"] = metrics
            return run

        run = self._history.read_transaction(query)
        return cast(RunRecord, self._present(run, time.time()))

    def latest_run(self, notebook: str) -> RunRecord | None:
        """The newest run of a notebook in full (as `get_run`), or None."""
        row = self._history.read_transaction(
            lambda c: c.execute(
                "SELECT id FROM runs WHERE notebook = ? ORDER BY started DESC, id DESC LIMIT 1",
                (notebook,),
            ).fetchone()
        )
        return None if row is None else self.get_run(row["id"])

    def _present(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """Report a 'running' run whose driver died on this host as 'interrupted'."""
        if (
            run["status"] == "running"
            and run.get("host") == self._history.host
            and not pid_alive(run.get("pid"))
        ):
            run["status"] = INTERRUPTED
        if run.get("ended") is not None:
            run["duration"] = run["ended"] - run["started"]
        elif run["status"] == "running":
            run["duration"] = now - run["started"]
        else:
            run["duration"] = None
        return run

    # ---------------------------------------------------------------- steps and metrics

    def last_step_run(
        self,
        notebook: str,
        step: str,
        *,
        before_run: str | None = None,
        statuses: Iterable[StepStatus] = COMPARED_STATUSES,
    ) -> LastStepRun | None:
        """The most recent run of `step` in `notebook` with one of `statuses`, or None.

        With `before_run`, only runs started before that one count: this is what
        "why did this step run" compares a step's key against. The dict is the
        step_run row plus `run_started`.
        """
        statuses = tuple(statuses)
        if not statuses:
            return None
        sql = (
            "SELECT s.*, r.started AS run_started FROM step_runs s JOIN runs r ON r.id = s.run_id"
            f" WHERE r.notebook = ? AND s.step = ? AND s.status IN ({placeholders(len(statuses))})"
        )
        args: list[Any] = [notebook, step, *statuses]
        if before_run is not None:
            validate_run_id(before_run)
            sql += " AND (r.started, r.id) < (SELECT started, id FROM runs WHERE id = ?)"
            args.append(before_run)

        def query(c: sqlite3.Connection) -> sqlite3.Row | None:
            if before_run is not None and not c.execute(
                "SELECT 1 FROM runs WHERE id = ?", (before_run,)
            ).fetchone():
                raise run_not_found(before_run, self._history.path)
            return c.execute(sql + " ORDER BY r.started DESC, r.id DESC LIMIT 1", args).fetchone()

        row = self._history.read_transaction(query)
        return None if row is None else cast(LastStepRun, row_dict(row, STEP_JSON))

    def metrics(
        self, run_id: str, step: str | None = None, since_rowid: int = 0
    ) -> list[MetricPoint]:
        """Metric points of a run after `since_rowid`, oldest first, for incremental polling.

        Each dict: rowid, run_id, step, name, value, step_index, ts. Pass the
        largest rowid seen as `since_rowid` next time.
        """
        validate_run_id(run_id)
        sql = (
            "SELECT id AS rowid, run_id, step, name, value, step_index, ts FROM metrics"
            " WHERE run_id = ? AND id > ?"
        )
        args: list[Any] = [run_id, int(since_rowid)]
        if step is not None:
            sql += " AND step = ?"
            args.append(step)
        sql += " ORDER BY id"
        rows = self._history.read_transaction(lambda c: c.execute(sql, args).fetchall())
        out = []
        for row in rows:
            data = dict(row)
            if data["value"] is None:
                data["value"] = float("nan")
            out.append(cast(MetricPoint, data))
        return out

    # ---------------------------------------------------------------- cache and artifacts

    def cache_get(self, key: str) -> CacheEntry | None:
        """The cache entry of a step key, or None.

        Keys: key, step, notebook, components, outputs, run_id, created.
        """
        row = self._history.read_transaction(
            lambda c: c.execute(
                "SELECT key, step, notebook, components, outputs, run_id, created FROM cache"
                " WHERE key = ?",
                (key,),
            ).fetchone()
        )
        return None if row is None else cast(CacheEntry, row_dict(row, CACHE_JSON))

    def artifact(self, digest: str) -> ArtifactInfo | None:
        """The recorded description of an artifact (format, type, size, summary, producer)."""
        row = self._history.read_transaction(
            lambda c: c.execute("SELECT * FROM artifacts WHERE digest = ?", (digest,)).fetchone()
        )
        return None if row is None else cast(ArtifactInfo, dict(row))


def _step_counts(c: sqlite3.Connection, run_ids: list[str]) -> dict[str, dict[str, int]]:
    """{run id: {status: how many steps}} for the given runs."""
    counts: dict[str, dict[str, int]] = {rid: {} for rid in run_ids}
    for chunk in chunks(run_ids):
        for row in c.execute(
            "SELECT run_id, status, COUNT(*) AS n FROM step_runs"
            f" WHERE run_id IN ({placeholders(len(chunk))}) GROUP BY run_id, status",
            chunk,
        ):
            counts[row["run_id"]][row["status"]] = row["n"]
    return counts
