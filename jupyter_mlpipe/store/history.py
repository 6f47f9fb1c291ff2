"""The run history: one embedded SQLite file per store (`history.sqlite`), and recording runs in it.

Why SQLite: the history must survive the kernel, be readable by the CLI, the
REST server and the panel while a run is writing it, and need no service. WAL
mode lets readers proceed during a write; `BEGIN IMMEDIATE` plus a busy
timeout and a retry loop let two pipeline runs (two processes) write the same
file. Transactions are short: one logical record each.

`History` owns the connection and its transactions, and records runs, steps,
metrics, artifacts and cache entries. Reading them back (`HistoryReader`) and
the garbage collector's queries (`GcQueries`) are given its transactions
(`sql.Transactions`); `History` offers their methods under the same names.
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..errors import MlpipeError
from ..vocab import RunStatus
from .facts import FactStore
from .gc_queries import GcQueries
from .history_reader import HistoryReader
from .ids import pid_alive, run_not_found, validate_run_id
from .records import FINISH_STATUSES, INTERRUPTED, RECORDED_RUN_STATUSES, RunOrigin
from .schema import MIGRATIONS, SCHEMA_VERSION, STEP_COLUMNS, STEP_JSON, dump_json
from .sql import is_locked, placeholders
from .sweeps import SweepStore

__all__ = ["RUN_STATUSES", "SCHEMA_VERSION", "History", "validate_run_id"]

RUN_STATUSES = RECORDED_RUN_STATUSES
"""Statuses a run is recorded with (`vocab.RUN_STATUSES` less "interrupted", which only
`mark_interrupted` stores)."""

_BUSY_TIMEOUT_MS = 30_000

_INHERITED: list[sqlite3.Connection] = []  # connections a forked child must not close

T = TypeVar("T")
P = ParamSpec("P")


def _offered(helper: str, method: Callable[Concatenate[Any, P], T]) -> Callable[Concatenate[History, P], T]:
    """`History`'s method of the same name, signature and docstring as `method` of its `helper`
    (`reader`, `gc`): it calls that method of `History.<helper>`."""
    name = method.__name__

    @functools.wraps(method)
    def offered(self: History, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return getattr(getattr(self, helper), name)(*args, **kwargs)

    return offered


class History:
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
        self.host = socket.gethostname()
        """This machine's name: a run recorded here whose driver pid is gone was interrupted."""
        with self._lock:
            self._connection()

    @property
    def reader(self) -> HistoryReader:
        """Reading runs, steps, metrics, cache entries and artifacts back.

        Made on each use (as is `gc`): kept, it would make a reference cycle, and a History
        dropped without `close()` would hold its connection open until the cyclic GC ran.
        """
        return HistoryReader(self)

    @property
    def facts(self) -> FactStore:
        """What runs learned about each notebook (`facts.py`)."""
        return FactStore(self)

    @property
    def sweeps(self) -> SweepStore:
        """The sweeps recorded here and their trials (`sweeps.py`)."""
        return SweepStore(self)

    @property
    def gc(self) -> GcQueries:
        """The garbage collector's queries (`gc.py`)."""
        return GcQueries(self)

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
                MIGRATIONS[target](c)
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
                if not is_locked(exc):
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

    def write_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one short write transaction (`BEGIN IMMEDIATE`: the write lock up front)."""
        with self._lock:
            return self._write_with(self._connection(), fn)

    def read_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one read transaction, so that several SELECTs see the same snapshot."""
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
            exists = self.read_transaction(
                lambda c, run_id=run_id: c.execute(
                    "SELECT 1 FROM runs WHERE id = ?", (run_id,)
                ).fetchone()
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
        origin: RunOrigin | None = None,
    ) -> None:
        """Record a run as running, with the driver's pid and host (to detect a killed driver);
        `origin`: the published pipeline, version and trigger it runs for."""
        validate_run_id(run_id)
        row = (run_id, notebook, time.time(), "running", dump_json(params), dump_json(plan),
               os.getpid(), self.host, dump_json(options), origin["pipeline"] if origin else None,
               origin["version"] if origin else None, dump_json(origin["trigger"]) if origin else None)
        self.write_transaction(
            lambda c: c.execute(
                "INSERT INTO runs (id, notebook, started, status, params, plan, pid, host, options,"
                " pipeline, pipeline_version, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def finish_run(self, run_id: str, status: RunStatus, corrections: list[str] | None = None) -> None:
        """Record the end of a run: its final status, end time, and what it corrected while it ran."""
        validate_run_id(run_id)
        if status not in FINISH_STATUSES:
            raise ValueError(f"status must be one of {FINISH_STATUSES!r} (got {status!r}).")

        def update(c: sqlite3.Connection) -> None:
            cur = c.execute(
                "UPDATE runs SET status = ?, ended = ?, corrections = ? WHERE id = ?",
                (status, time.time(), dump_json(corrections or []), run_id),
            )
            if cur.rowcount == 0:
                raise run_not_found(run_id, self.path)

        self.write_transaction(update)

    def record_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Insert or update one step's row of a run; only the given fields change.

        JSON columns (reason, error, resources, outputs, inputs, warnings) are
        encoded whatever their type. When `started` and `ended` are known and no
        `duration` was ever given, the duration is filled in as their difference.
        """
        validate_run_id(run_id)
        unknown = sorted(set(fields) - set(STEP_COLUMNS))
        if unknown:
            raise TypeError(
                f"record_step() got unknown field(s) {unknown}; "
                f"known fields: {list(STEP_COLUMNS)}."
            )
        cols = [c for c in STEP_COLUMNS if c in fields]
        values: list[Any] = []
        for col in cols:
            value = fields[col]
            if col in STEP_JSON:
                value = dump_json(value)
            elif isinstance(value, (dict, list, tuple, set)):
                raise TypeError(f"record_step() field {col!r} must be a scalar (got {value!r}).")
            values.append(value)
        names = ", ".join(["run_id", "step", *cols])
        update = ", ".join(f"{c} = excluded.{c}" for c in cols)
        sql = f"INSERT INTO step_runs ({names}) VALUES ({placeholders(len(cols) + 2)})"
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

        self.write_transaction(upsert)

    def record_artifact(self, ref: dict, *, run_id: str, step: str, variable: str) -> None:
        """Remember an artifact's description; the first run that produced it wins."""
        validate_run_id(run_id)
        row = (ref["digest"], ref.get("format"), ref.get("type_name"), ref.get("size"),
               ref.get("summary"), run_id, step, variable, time.time())
        self.write_transaction(
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
        index = None if step_index is None else int(step_index)
        row = (run_id, step, name, float(value), index, time.time() if ts is None else float(ts))
        self.write_transaction(
            lambda c: c.execute(
                "INSERT INTO metrics (run_id, step, name, value, step_index, ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    # ---------------------------------------------------------------- cache

    def cache_put(
        self, key: str, *, step: str, notebook: str, components: dict, outputs: dict, run_id: str
    ) -> None:
        """Store (or replace) what a step key produced, with the key's parts for `why`."""
        validate_run_id(run_id)
        row = (key, step, notebook, dump_json(components), dump_json(outputs), run_id, time.time())
        self.write_transaction(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO cache (key, step, notebook, components, outputs, run_id,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def cache_put_many(self, entries: list[tuple[str, dict]], *, step: str, notebook: str, run_id: str) -> None:
        """Store many (key, outputs) entries of one step in one transaction (a fan-out step's elements)."""
        validate_run_id(run_id)
        now = time.time()
        rows = [(key, step, notebook, dump_json({}), dump_json(outputs), run_id, now) for key, outputs in entries]
        if rows:
            self.write_transaction(lambda c: c.executemany(
                "INSERT OR REPLACE INTO cache (key, step, notebook, components, outputs, run_id,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)", rows))

    def cache_delete(self, key: str) -> None:
        """Forget a cache entry (e.g. its artifacts turned out missing or corrupt)."""
        self.write_transaction(lambda c: c.execute("DELETE FROM cache WHERE key = ?", (key,)))

    def mark_interrupted(self) -> list[str]:
        """Store 'interrupted' for runs whose driver died on this host; return their ids.

        Their steps still 'running' or 'pending' become 'cancelled'; the run's
        end time becomes the last activity recorded for it.
        """

        def update(c: sqlite3.Connection) -> list[str]:
            rows = c.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (self.host,)
            ).fetchall()
            dead = [r["id"] for r in rows if not pid_alive(r["pid"])]
            for run_id in dead:
                c.execute(
                    "UPDATE runs SET status = ?, ended = COALESCE(ended, MAX(started, COALESCE("
                    "(SELECT MAX(MAX(COALESCE(ended, 0), COALESCE(started, 0)))"
                    " FROM step_runs WHERE run_id = ?), 0))) WHERE id = ?",
                    (INTERRUPTED, run_id, run_id),
                )
                c.execute(
                    "UPDATE step_runs SET status = 'cancelled'"
                    " WHERE run_id = ? AND status IN ('running', 'pending')",
                    (run_id,),
                )
            return dead

        return self.write_transaction(update)

    # ---------------------------------------------------------------- reading (HistoryReader)

    list_runs = _offered("reader", HistoryReader.list_runs)
    get_run = _offered("reader", HistoryReader.get_run)
    latest_run = _offered("reader", HistoryReader.latest_run)
    last_step_run = _offered("reader", HistoryReader.last_step_run)
    metrics = _offered("reader", HistoryReader.metrics)
    cache_get = _offered("reader", HistoryReader.cache_get)
    artifact = _offered("reader", HistoryReader.artifact)

    # -------------------------------------------------------- garbage collection (GcQueries)

    referenced_digests = _offered("gc", GcQueries.referenced_digests)
    runs_older_than = _offered("gc", GcQueries.runs_older_than)
    delete_runs = _offered("gc", GcQueries.delete_runs)
    delete_artifacts = _offered("gc", GcQueries.delete_artifacts)
