"""The workspace's registry file (`registry.sqlite`): its tables, migrations and transactions.

Why SQLite, as for the run history: the CLI, a kernel and a server (whose
scheduler fires in a thread) read and write the registry at the same time, in
different processes. Every operation is one short transaction on a fresh
connection (`BEGIN IMMEDIATE` for writes), so nothing is held between calls.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..errors import MlpipeError

__all__ = ["SCHEMA_VERSION", "RegistryDB"]

T = TypeVar("T")

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 30.0

_V1 = """
CREATE TABLE pipelines (
    name TEXT PRIMARY KEY,
    default_version INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created REAL NOT NULL
);
CREATE TABLE versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    notebook TEXT NOT NULL,
    digest TEXT NOT NULL,
    description TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    revoked REAL
);
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    params TEXT NOT NULL,
    overlap TEXT NOT NULL,
    catch_up TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    next_fire REAL,
    state TEXT
);
CREATE TABLE fires (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT NOT NULL,
    fire_time REAL NOT NULL,
    outcome TEXT NOT NULL,
    run_id TEXT,
    detail TEXT,
    recorded REAL NOT NULL
);
CREATE INDEX fires_schedule ON fires (schedule_id, fire_time);
CREATE TABLE lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires REAL NOT NULL
)
"""


class RegistryDB:
    """The registry file of a workspace, created (with its folder) on the first transaction."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise MlpipeError(
                    f"The pipeline registry {self.path} has schema version {version}; this jupyter-mlpipe "
                    f"knows versions up to {SCHEMA_VERSION}.", hint="Upgrade jupyter-mlpipe (pip install -U "
                    "jupyter-mlpipe).")
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                    for statement in _V1.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one write transaction (the write lock taken up front)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one read transaction (one consistent snapshot)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        finally:
            conn.close()
