"""The run history: one embedded SQLite database per store (`history.sqlite`).

Why SQLite: the history must survive the kernel, be readable by the CLI, the
REST server and the panel while a run is writing it, and need no service. WAL
mode lets readers proceed during a write; `BEGIN IMMEDIATE` plus a busy
timeout and a retry loop let two pipeline runs (two processes) write the same
file. Transactions are short: one logical record each.

JSON-shaped columns (params, plan, outputs, ...) are stored as TEXT and
decoded on read, so that the schema does not chase every field a step reports.

The schema, its migrations and the encoding of rows are in `history_schema.py`;
run id checks and other helpers that need no database in `history_helpers.py`;
the garbage collector's queries (a mixin of `History`) in `history_gc.py`.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..errors import MlpipeError, RunNotFound
from .gc_queries import _GcQueries
from .ids import _LIST_RUNS_HINT, _chunks, _is_locked, _pid_alive, _placeholders, validate_run_id
from .schema import (
    _CACHE_JSON,
    _MIGRATIONS,
    _RUN_JSON,
    _STEP_COLUMNS,
    _STEP_JSON,
    SCHEMA_VERSION,
    _dumps,
    _row,
)

__all__ = ["RUN_STATUSES", "SCHEMA_VERSION", "History", "validate_run_id"]

RUN_STATUSES = ("running", "succeeded", "failed", "cancelled")
"""Statuses a run is recorded with. `mark_interrupted` also stores "interrupted"."""

_FINISH_STATUSES = ("succeeded", "failed", "cancelled")
_INTERRUPTED = "interrupted"

_BUSY_TIMEOUT_MS = 30_000

_INHERITED: list[sqlite3.Connection] = []  # connections a forked child must not close

T = TypeVar("T")


# --------------------------------------------------------------------------- History


class History(_GcQueries):
    """The run history of one store, backed by a SQLite file.

    One connection per object, guarded by a lock, so the scheduler thread of a
    run can record while the kernel thread reads. After a fork the child opens
    its own connection (SQLite connections must not cross a fork).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._host = socket.gethostname()
        with self._lock:
            self._connection()

    # ---------------------------------------------------------------- connection

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self._conn is None and self._pid == -1:
            raise MlpipeError(f"The run history {self.path} was closed.")
        if self._conn is not None:
            # Inherited through fork: never touch (or let GC close) the parent's connection.
            _INHERITED.append(self._conn)
            self._conn = None
        conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL; no fsync per commit
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._pid = os.getpid()
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create the schema on a new file, upgrade an old one, refuse a newer one."""

        def check(version: int) -> None:
            if version > SCHEMA_VERSION:
                raise MlpipeError(
                    f"The run history {self.path} has schema version {version}, but this "
                    f"jupyter-mlpipe only knows versions up to {SCHEMA_VERSION}.",
                    hint="A newer jupyter-mlpipe wrote it: upgrade jupyter-mlpipe "
                    "(pip install -U jupyter-mlpipe), or point it at another store.",
                )

        version = conn.execute("PRAGMA user_version").fetchone()[0]
        check(version)
        if version == SCHEMA_VERSION:
            return

        def upgrade(c: sqlite3.Connection) -> None:
            current = c.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            check(current)
            for target in range(current + 1, SCHEMA_VERSION + 1):
                _MIGRATIONS[target](c)
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        self._write_with(conn, upgrade)

    def close(self) -> None:
        """Close the connection; the object cannot be used afterwards."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._pid = -1

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"History({self.path!r})"

    # ---------------------------------------------------------------- transactions

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying with backoff while another process holds the lock.

        SQLite's busy handler already waits up to the busy timeout; this loop
        covers the cases where SQLite answers "locked" at once (changing the
        journal mode, WAL recovery), within the same overall deadline.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise MlpipeError(
                        f"The run history {self.path} stayed locked by another process for "
                        f"{_BUSY_TIMEOUT_MS // 1000} s ({exc}).",
                        hint="Another pipeline run or tool is holding a write transaction; "
                        "find it with `mlpipe runs` or wait for it to finish.",
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _write_with(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        return self._retry(attempt)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One short write transaction (`BEGIN IMMEDIATE`: take the write lock up front)."""
        with self._lock:
            return self._write_with(self._connection(), fn)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One read transaction, so that several SELECTs see the same snapshot."""
        with self._lock:
            conn = self._connection()

            def attempt() -> T:
                conn.execute("BEGIN")
                try:
                    return fn(conn)
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")

            return self._retry(attempt)

    # ---------------------------------------------------------------- runs

    def new_run_id(self) -> str:
        """A sortable, unique id safe in paths and URLs: UTC time + 6 random hex digits."""
        while True:
            run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()
            exists = self._read(
                lambda c: c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
            )
            if not exists:
                return run_id

    def start_run(
        self,
        run_id: str,
        *,
        notebook: str,
        params: dict,
        plan: dict,
        options: dict | None = None,
    ) -> None:
        """Record a run as running, with the driver's pid and host (to detect a killed driver)."""
        validate_run_id(run_id)
        row = (
            run_id,
            notebook,
            time.time(),
            "running",
            _dumps(params),
            _dumps(plan),
            os.getpid(),
            self._host,
            _dumps(options),
        )
        self._write(
            lambda c: c.execute(
                "INSERT INTO runs (id, notebook, started, status, params, plan, pid, host, options)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def finish_run(self, run_id: str, status: str) -> None:
        """Record the end of a run: its final status and end time."""
        validate_run_id(run_id)
        if status not in _FINISH_STATUSES:
            raise ValueError(f"status must be one of {_FINISH_STATUSES!r} (got {status!r}).")

        def update(c: sqlite3.Connection) -> None:
            cur = c.execute(
                "UPDATE runs SET status = ?, ended = ? WHERE id = ?", (status, time.time(), run_id)
            )
            if cur.rowcount == 0:
                raise self._not_found(run_id)

        self._write(update)

    def record_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update one step's row of a run; only the given fields change.

        JSON columns (reason, error, resources, outputs, inputs, warnings) are
        encoded whatever their type. When `started` and `ended` are known and no
        `duration` was ever given, the duration is filled in as their difference.
        """
        validate_run_id(run_id)
        unknown = sorted(set(fields) - set(_STEP_COLUMNS))
        if unknown:
            raise TypeError(
                f"record_step() got unknown field(s) {unknown}; "
                f"known fields: {list(_STEP_COLUMNS)}."
            )
        cols = [c for c in _STEP_COLUMNS if c in fields]
        values: list[Any] = []
        for col in cols:
            value = fields[col]
            if col in _STEP_JSON:
                value = _dumps(value)
            elif isinstance(value, (dict, list, tuple, set)):
                raise TypeError(f"record_step() field {col!r} must be a scalar (got {value!r}).")
            values.append(value)
        names = ", ".join(["run_id", "step", *cols])
        update = ", ".join(f"{c} = excluded.{c}" for c in cols)
        sql = f"INSERT INTO step_runs ({names}) VALUES ({_placeholders(len(cols) + 2)})"
        if cols:
            sql += f" ON CONFLICT (run_id, step) DO UPDATE SET {update}"
        else:
            sql += " ON CONFLICT DO NOTHING"

        def upsert(c: sqlite3.Connection) -> None:
            c.execute(sql, (run_id, step, *values))
            if "started" in fields or "ended" in fields:
                c.execute(
                    "UPDATE step_runs SET duration = ended - started WHERE run_id = ? AND step = ?"
                    " AND duration IS NULL AND started IS NOT NULL AND ended IS NOT NULL",
                    (run_id, step),
                )

        self._write(upsert)

    def record_artifact(self, ref: dict, *, run_id: str, step: str, variable: str) -> None:
        """Remember an artifact's description; the first run that produced it wins."""
        validate_run_id(run_id)
        row = (
            ref["digest"],
            ref.get("format"),
            ref.get("type_name"),
            ref.get("size"),
            ref.get("summary"),
            run_id,
            step,
            variable,
            time.time(),
        )
        self._write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO artifacts (digest, format, type_name, size, summary,"
                " first_run_id, first_step, variable, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def record_metric(
        self,
        run_id: str,
        step: str,
        name: str,
        value: float,
        step_index: int | None = None,
        ts: float | None = None,
    ) -> None:
        """Append one metric point (NaN is stored as NULL by SQLite and read back as NaN)."""
        validate_run_id(run_id)
        row = (
            run_id,
            step,
            name,
            float(value),
            None if step_index is None else int(step_index),
            time.time() if ts is None else float(ts),
        )
        self._write(
            lambda c: c.execute(
                "INSERT INTO metrics (run_id, step, name, value, step_index, ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def metrics(self, run_id: str, step: str | None = None, since_rowid: int = 0) -> list[dict]:
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
        rows = self._read(lambda c: c.execute(sql, args).fetchall())
        out = []
        for row in rows:
            data = dict(row)
            if data["value"] is None:
                data["value"] = float("nan")
            out.append(data)
        return out

    # ---------------------------------------------------------------- cache

    def cache_get(self, key: str) -> dict | None:
        """The cache entry of a step key, or None.

        Keys: key, step, notebook, components, outputs, run_id, created.
        """
        row = self._read(
            lambda c: c.execute(
                "SELECT key, step, notebook, components, outputs, run_id, created FROM cache"
                " WHERE key = ?",
                (key,),
            ).fetchone()
        )
        return None if row is None else _row(row, _CACHE_JSON)

    def cache_put(
        self, key: str, *, step: str, notebook: str, components: dict, outputs: dict, run_id: str
    ) -> None:
        """Store (or replace) what a step key produced, with the key's parts for `why`."""
        validate_run_id(run_id)
        row = (key, step, notebook, _dumps(components), _dumps(outputs), run_id, time.time())
        self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO cache (key, step, notebook, components, outputs, run_id,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def cache_delete(self, key: str) -> None:
        """Forget a cache entry (e.g. its artifacts turned out missing or corrupt)."""
        self._write(lambda c: c.execute("DELETE FROM cache WHERE key = ?", (key,)))

    def last_step_run(
        self,
        notebook: str,
        step: str,
        *,
        before_run: str | None = None,
        statuses: Iterable[str] = ("succeeded", "reused", "failed"),
    ) -> dict | None:
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
            f" WHERE r.notebook = ? AND s.step = ? AND s.status IN ({_placeholders(len(statuses))})"
        )
        args: list[Any] = [notebook, step, *statuses]
        if before_run is not None:
            validate_run_id(before_run)
            sql += (
                " AND (r.started, r.id) <"
                " (SELECT started, id FROM runs WHERE id = ?)"
            )
            args.append(before_run)

        def query(c: sqlite3.Connection) -> sqlite3.Row | None:
            if before_run is not None and not c.execute(
                "SELECT 1 FROM runs WHERE id = ?", (before_run,)
            ).fetchone():
                raise self._not_found(before_run)
            return c.execute(sql + " ORDER BY r.started DESC, r.id DESC LIMIT 1", args).fetchone()

        row = self._read(query)
        return None if row is None else _row(row, _STEP_JSON)

    # ---------------------------------------------------------------- queries

    def _not_found(self, run_id: str) -> RunNotFound:
        return RunNotFound(f"No run with id {run_id!r} in {self.path}.", hint=_LIST_RUNS_HINT)

    def _present(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """Report a 'running' run whose driver died on this host as 'interrupted'."""
        if (
            run["status"] == "running"
            and run.get("host") == self._host
            and not _pid_alive(run.get("pid"))
        ):
            run["status"] = _INTERRUPTED
        if run.get("ended") is not None:
            run["duration"] = run["ended"] - run["started"]
        elif run["status"] == "running":
            run["duration"] = now - run["started"]
        else:
            run["duration"] = None
        return run

    @staticmethod
    def _step_counts(c: sqlite3.Connection, run_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {rid: {} for rid in run_ids}
        for chunk in _chunks(run_ids):
            for row in c.execute(
                "SELECT run_id, status, COUNT(*) AS n FROM step_runs"
                f" WHERE run_id IN ({_placeholders(len(chunk))}) GROUP BY run_id, status",
                chunk,
            ):
                counts[row["run_id"]][row["status"]] = row["n"]
        return counts

    def list_runs(self, notebook: str | None = None, limit: int = 50) -> list[dict]:
        """Runs newest first (without their plan), each with `step_counts` and `duration`.

        A 'running' run whose driver pid no longer exists on this host is
        reported as 'interrupted'; the stored status is left alone (see
        `mark_interrupted`). `duration` is the elapsed time for a running run
        and None for an interrupted one.
        """
        sql = "SELECT id, notebook, started, ended, status, params, pid, host, options FROM runs"
        args: list[Any] = []
        if notebook is not None:
            sql += " WHERE notebook = ?"
            args.append(notebook)
        sql += " ORDER BY started DESC, id DESC LIMIT ?"
        args.append(int(limit))

        def query(c: sqlite3.Connection) -> list[dict[str, Any]]:
            runs = [_row(r, _RUN_JSON) for r in c.execute(sql, args)]
            counts = self._step_counts(c, [r["id"] for r in runs])
            for run in runs:
                run["step_counts"] = counts[run["id"]]
            return runs

        now = time.time()
        return [self._present(run, now) for run in self._read(query)]

    def get_run(self, run_id: str) -> dict:
        """One run in full: its fields, `steps` {step: step_run} and `metrics`.

        `metrics` is {step: {name: [(step_index, value, ts), ...]}} in recording
        order. Raises RunNotFound for an unknown or malformed id.
        """
        validate_run_id(run_id)

        def query(c: sqlite3.Connection) -> dict[str, Any]:
            row = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._not_found(run_id)
            run = _row(row, _RUN_JSON)
            steps: dict[str, dict] = {}
            counts: dict[str, int] = {}
            for srow in c.execute(
                "SELECT * FROM step_runs WHERE run_id = ? ORDER BY rowid", (run_id,)
            ):
                srun = _row(srow, _STEP_JSON)
                steps[srun["step"]] = srun
                counts[srun["status"]] = counts.get(srun["status"], 0) + 1
            metrics: dict[str, dict[str, list[tuple]]] = {}
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

        return self._present(self._read(query), time.time())

    def latest_run(self, notebook: str) -> dict | None:
        """The newest run of a notebook in full (as `get_run`), or None."""
        row = self._read(
            lambda c: c.execute(
                "SELECT id FROM runs WHERE notebook = ? ORDER BY started DESC, id DESC LIMIT 1",
                (notebook,),
            ).fetchone()
        )
        return None if row is None else self.get_run(row["id"])

    def mark_interrupted(self) -> list[str]:
        """Store 'interrupted' for runs whose driver died on this host; return their ids.

        Their steps still 'running' or 'pending' become 'cancelled'; the run's
        end time becomes the last activity recorded for it.
        """

        def update(c: sqlite3.Connection) -> list[str]:
            rows = c.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (self._host,)
            ).fetchall()
            dead = [r["id"] for r in rows if not _pid_alive(r["pid"])]
            for run_id in dead:
                c.execute(
                    "UPDATE runs SET status = ?, ended = COALESCE(ended, MAX(started, COALESCE("
                    "(SELECT MAX(MAX(COALESCE(ended, 0), COALESCE(started, 0)))"
                    " FROM step_runs WHERE run_id = ?), 0))) WHERE id = ?",
                    (_INTERRUPTED, run_id, run_id),
                )
                c.execute(
                    "UPDATE step_runs SET status = 'cancelled'"
                    " WHERE run_id = ? AND status IN ('running', 'pending')",
                    (run_id,),
                )
            return dead

        return self._write(update)
