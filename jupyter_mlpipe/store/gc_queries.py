"""The run history's garbage-collection queries: what artifacts are still referenced, and forgetting old runs.

Split out of `history.py` to keep that module to recording and reading runs;
`_GcQueries` is a base of `history.History` and is not used on its own. `gc.py`
(`mlpipe gc`) is the caller: it asks for old runs, deletes them, and removes
the artifacts no remaining step run or cache entry refers to.

Attributes of the composed class it relies on: the transaction methods `_read`
and `_write` (each takes a function of the connection) and `_host` (this
machine's name, to tell a dead driver from a running one).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from .ids import _chunks, _pid_alive, _placeholders, validate_run_id
from .schema import _collect_digests, _loads


class _GcQueries:
    """`History`'s queries and deletions for the garbage collector, and the lookup of an artifact."""

    def referenced_digests(self) -> set[str]:
        """Every artifact digest that a recorded step run or cache entry still points to.

        Collects the "digest" values of step_runs.outputs and cache.outputs (at
        any depth) and the values of step_runs.inputs ({variable: digest}).
        """

        def query(c: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for row in c.execute(
                "SELECT outputs, inputs FROM step_runs"
                " WHERE outputs IS NOT NULL OR inputs IS NOT NULL"
            ):
                _collect_digests(_loads(row["outputs"]), found)
                inputs = _loads(row["inputs"])
                if isinstance(inputs, dict):
                    for value in inputs.values():
                        if isinstance(value, str):
                            found.add(value)
                        else:
                            _collect_digests(value, found)
            for row in c.execute("SELECT outputs FROM cache WHERE outputs IS NOT NULL"):
                _collect_digests(_loads(row["outputs"]), found)
            return found

        return self._read(query)

    def delete_runs(self, run_ids: list[str]) -> None:
        """Delete runs with their step runs, metrics and the cache entries they made."""
        ids = [validate_run_id(r) for r in run_ids]
        if not ids:
            return

        def delete(c: sqlite3.Connection) -> None:
            for chunk in _chunks(ids):
                marks = _placeholders(len(chunk))
                for table, col in (
                    ("step_runs", "run_id"),
                    ("metrics", "run_id"),
                    ("cache", "run_id"),
                    ("runs", "id"),
                ):
                    c.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", chunk)

        self._write(delete)

    def delete_artifacts(self, digests: Iterable[str]) -> None:
        """Forget the descriptions of artifacts the garbage collector removed."""
        items = list(digests)
        if not items:
            return

        def delete(c: sqlite3.Connection) -> None:
            for chunk in _chunks(items):
                marks = _placeholders(len(chunk))
                c.execute(f"DELETE FROM artifacts WHERE digest IN ({marks})", chunk)

        self._write(delete)

    def artifact(self, digest: str) -> dict | None:
        """The recorded description of an artifact (format, type, size, summary, producer)."""
        row = self._read(
            lambda c: c.execute("SELECT * FROM artifacts WHERE digest = ?", (digest,)).fetchone()
        )
        return None if row is None else dict(row)

    def runs_older_than(self, seconds: float) -> list[str]:
        """Ids of finished runs that ended (or started) more than `seconds` ago, oldest first.

        Runs still running are never returned, unless their driver died on this
        host (an interrupted run is as finished as a failed one).
        """
        cutoff = time.time() - seconds
        rows = self._read(
            lambda c: c.execute(
                "SELECT id, status, pid, host FROM runs WHERE COALESCE(ended, started) < ?"
                " ORDER BY started, id",
                (cutoff,),
            ).fetchall()
        )
        return [
            r["id"]
            for r in rows
            if r["status"] != "running" or (r["host"] == self._host and not _pid_alive(r["pid"]))
        ]
