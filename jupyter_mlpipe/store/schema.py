"""The run history's SQLite schema, and how values go in and out of its rows.

Split out of `history.py`: the tables and their migrations (`SCHEMA_VERSION` is
stored in `PRAGMA user_version`), which columns hold JSON, and the encoding of
those columns (TEXT written with `json.dumps`, decoded on read).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

SCHEMA_VERSION = 1
"""The newest schema this code knows; stored in `PRAGMA user_version`."""

_RUN_JSON = ("params", "plan", "options")
_STEP_COLUMNS = (
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
_STEP_JSON = ("reason", "error", "resources", "outputs", "inputs", "warnings")
_CACHE_JSON = ("components", "outputs")


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
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _create_v1}


def _json_default(value: Any) -> Any:
    """Encode what json cannot: numpy scalars/arrays, sets, paths, the rest as str.

    The history describes a run; a numpy float in a resources dict must not make
    the driver fail while recording it.
    """
    for attr in ("item", "tolist"):  # numpy scalars, arrays
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except (TypeError, ValueError):
                pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default, allow_nan=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _row(row: sqlite3.Row, json_columns: Iterable[str] = ()) -> dict[str, Any]:
    data = dict(row)
    for col in json_columns:
        if col in data:
            data[col] = _loads(data[col])
    return data


def _collect_digests(value: Any, out: set[str]) -> None:
    """Every string under a "digest" key, at any depth (artifact dicts may nest parts)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "digest" and isinstance(item, str):
                out.add(item)
            else:
                _collect_digests(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect_digests(item, out)
