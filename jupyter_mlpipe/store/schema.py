"""The run history's SQLite schema, and how values go in and out of its rows.

The tables and their migrations live here (`SCHEMA_VERSION` is stored in
`PRAGMA user_version`, so an old file is upgraded and a newer one refused), with
which columns hold JSON. JSON-shaped columns (params, plan, outputs, ...) are
TEXT written with `dump_json` and decoded on read (`row_dict`), so that the
schema does not chase every field a step reports.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from ..vocab import to_json
from .facts import create_facts_table

__all__ = [
    "CACHE_JSON",
    "MIGRATIONS",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "STEP_COLUMNS",
    "STEP_JSON",
    "collect_digests",
    "dump_json",
    "json_default",
    "load_json",
    "row_dict",
]

SCHEMA_VERSION = 4
"""The newest schema this code knows; stored in `PRAGMA user_version`."""

RUN_JSON = ("params", "plan", "options", "corrections", "trigger")
STEP_COLUMNS = (
    "status",
    "key",
    "reason",
    "started",
    "ended",
    "duration",
    "attempts",
    "error",
    "notebook_path",
    "resources",
    "outputs",
    "inputs",
    "warnings",
)
STEP_JSON = ("reason", "error", "resources", "outputs", "inputs", "warnings")
CACHE_JSON = ("components", "outputs")


def _add_learning(conn: sqlite3.Connection) -> None:
    """Version 2: what runs learned (the facts table) and what each run corrected (runs.corrections)."""
    create_facts_table(conn)
    conn.execute("ALTER TABLE runs ADD COLUMN corrections TEXT")


def _add_origin(conn: sqlite3.Connection) -> None:
    """Version 3: a run of a published pipeline names it, its version and what triggered it."""
    conn.execute("ALTER TABLE runs ADD COLUMN pipeline TEXT")
    conn.execute("ALTER TABLE runs ADD COLUMN pipeline_version INTEGER")
    conn.execute("ALTER TABLE runs ADD COLUMN trigger TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS runs_pipeline ON runs (pipeline, started)")


def _add_sweeps(conn: sqlite3.Connection) -> None:
    """Version 4: sweeps and their trials (`sweeps.SweepStore`); each trial is also a run in `runs`."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS sweeps ("
        " id TEXT PRIMARY KEY, notebook TEXT NOT NULL, started REAL NOT NULL, ended REAL,"
        " status TEXT NOT NULL, metric TEXT NOT NULL, goal TEXT NOT NULL, search TEXT NOT NULL,"
        " space TEXT, fixed TEXT, options TEXT, shared_run_id TEXT, steps_saved INTEGER,"
        " best_run_id TEXT, best_metric REAL, error TEXT)"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS sweeps_notebook ON sweeps (notebook, started)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS sweep_trials ("
        " sweep_id TEXT NOT NULL, number INTEGER NOT NULL, trial_id TEXT, run_id TEXT,"
        " params TEXT, status TEXT NOT NULL DEFAULT 'pending', metric REAL, points INTEGER NOT NULL DEFAULT 0,"
        " started REAL, ended REAL, error TEXT, PRIMARY KEY (sweep_id, number))"
    )


def _create_v1(conn: sqlite3.Connection) -> None:
    """Version 1: the initial tables."""
    # Statement by statement: executescript() would COMMIT the migration's transaction.
    for statement in _V1_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


_V1_SCHEMA = """
        CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY,
            notebook TEXT NOT NULL,
            started REAL NOT NULL,
            ended REAL,
            status TEXT NOT NULL,
            params TEXT,
            plan TEXT,
            pid INTEGER,
            host TEXT,
            options TEXT
        );
        CREATE INDEX IF NOT EXISTS runs_notebook ON runs (notebook, started);
        CREATE INDEX IF NOT EXISTS runs_started ON runs (started);

        CREATE TABLE IF NOT EXISTS step_runs (
            run_id TEXT NOT NULL,
            step TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            key TEXT,
            reason TEXT,
            started REAL,
            ended REAL,
            duration REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            notebook_path TEXT,
            resources TEXT,
            outputs TEXT,
            inputs TEXT,
            warnings TEXT,
            PRIMARY KEY (run_id, step)
        );
        CREATE INDEX IF NOT EXISTS step_runs_step ON step_runs (step);

        CREATE TABLE IF NOT EXISTS artifacts (
            digest TEXT PRIMARY KEY,
            format TEXT,
            type_name TEXT,
            size INTEGER,
            summary TEXT,
            first_run_id TEXT,
            first_step TEXT,
            variable TEXT,
            created REAL
        );

        CREATE TABLE IF NOT EXISTS cache (
            key TEXT PRIMARY KEY,
            step TEXT NOT NULL,
            notebook TEXT,
            components TEXT,
            outputs TEXT,
            run_id TEXT,
            created REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS cache_run ON cache (run_id);

        -- An explicit AUTOINCREMENT id: the live panel polls with `since_rowid`,
        -- and plain rowids may be renumbered by VACUUM or reused after deletes.
        CREATE TABLE IF NOT EXISTS metrics (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            step TEXT NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            step_index INTEGER,
            ts REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS metrics_run_step ON metrics (run_id, step);
"""


# version -> function that brings the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _create_v1, 2: _add_learning, 3: _add_origin,
                                                               4: _add_sweeps}


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)`: numpy scalars and arrays, sets, the rest as `to_json` says.

    The history describes a run; a numpy float in a resources dict must not make
    the driver fail while recording it. Unlike `to_json`, NaN stays NaN (SQLite
    stores it, and metrics read it back as NaN), and numpy arrays stay numbers.
    """
    for attr in ("item", "tolist"):  # numpy scalars, then arrays (`item` refuses those)
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except (TypeError, ValueError):
                continue  # not a scalar: try the next way
    if isinstance(value, (set, frozenset)):
        return list(value)  # json encodes the items, asking here again for numpy ones
    return to_json(value)  # a path, a date, anything else: the vocabulary's plain form (its str)


def dump_json(value: Any) -> str | None:
    """A JSON column's TEXT (None stays NULL); never fails on a non-JSON value."""
    return None if value is None else json.dumps(value, default=json_default, allow_nan=True)


def load_json(text: str | None) -> Any:
    """A JSON column's value (NULL is None)."""
    return None if text is None else json.loads(text)


def row_dict(row: sqlite3.Row, json_columns: Iterable[str] = ()) -> dict[str, Any]:
    """A row as a dict, its JSON columns decoded."""
    data = dict(row)
    for col in json_columns:
        if col in data:
            data[col] = load_json(data[col])
    return data


def collect_digests(value: Any, out: set[str]) -> None:
    """Every string under a "digest" key, at any depth (artifact dicts may nest parts)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "digest" and isinstance(item, str):
                out.add(item)
            else:
                collect_digests(item, out)
    elif isinstance(value, list):
        for item in value:
            collect_digests(item, out)
