"""The run history's queries for the garbage collector: what is still referenced, and forgetting.

`mlpipe gc` (`gc.py`) asks which artifacts a recorded step run or cache entry
still refers to, which runs are old enough to forget, deletes those runs, and
forgets the artifacts it removed. These statements touch every table, so they
are kept apart from recording and reading runs; `History` owns a `GcQueries`
and offers its methods under the same names.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from .ids import pid_alive, validate_run_id
from .schema import collect_digests, load_json
from .sql import Transactions, chunks, placeholders

__all__ = ["GcQueries"]


class GcQueries:
    """The garbage collector's reads and deletions on one run history.

    It needs only `history`'s transactions and host name (see `sql.Transactions`).
    """

    def __init__(self, history: Transactions) -> None:
        self._history = history

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
                collect_digests(load_json(row["outputs"]), found)
                inputs = load_json(row["inputs"])
                if isinstance(inputs, dict):
                    for value in inputs.values():
                        if isinstance(value, str):
                            found.add(value)
                        else:
                            collect_digests(value, found)
            for row in c.execute("SELECT outputs FROM cache WHERE outputs IS NOT NULL"):
                collect_digests(load_json(row["outputs"]), found)
            return {digest.split("#", 1)[0] for digest in found}  # a member of a group keeps the group

        return self._history.read_transaction(query)

    def delete_runs(self, run_ids: list[str]) -> None:
        """Delete runs with their step runs, metrics and the cache entries they made."""
        ids = [validate_run_id(r) for r in run_ids]
        if not ids:
            return

        def delete(c: sqlite3.Connection) -> None:
            for chunk in chunks(ids):
                marks = placeholders(len(chunk))
                for table, col in (
                    ("step_runs", "run_id"),
                    ("metrics", "run_id"),
                    ("cache", "run_id"),
                    ("runs", "id"),
                ):
                    c.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", chunk)

        self._history.write_transaction(delete)

    def delete_artifacts(self, digests: Iterable[str]) -> None:
        """Forget the descriptions of artifacts the garbage collector removed."""
        items = list(digests)
        if not items:
            return

        def delete(c: sqlite3.Connection) -> None:
            for chunk in chunks(items):
                marks = placeholders(len(chunk))
                c.execute(f"DELETE FROM artifacts WHERE digest IN ({marks})", chunk)

        self._history.write_transaction(delete)

    def runs_older_than(self, seconds: float) -> list[str]:
        """Ids of finished runs that ended (or started) more than `seconds` ago, oldest first.

        Runs still running are never returned, unless their driver died on this
        host (an interrupted run is as finished as a failed one).
        """
        cutoff = time.time() - seconds
        rows = self._history.read_transaction(
            lambda c: c.execute(
                "SELECT id, status, pid, host FROM runs WHERE COALESCE(ended, started) < ?"
                " ORDER BY started, id",
                (cutoff,),
            ).fetchall()
        )
        host = self._history.host
        return [
            r["id"]
            for r in rows
            if r["status"] != "running" or (r["host"] == host and not pid_alive(r["pid"]))
        ]
