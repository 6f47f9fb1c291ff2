"""What runs learned about a notebook that its static plan could not see, kept for the next plan.

A step that changed a value through an alias, made two values share an object,
or drew random numbers defines more than its code shows. The run that notices
corrects itself and records the fact here; the next plan of the same notebook
starts with it (`plan.learned.apply_facts`), so it is not learned twice. Facts
only add definitions (and so edges): a stale fact costs order, never a wrong value.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Literal, TypedDict

from .sql import Transactions

__all__ = ["Fact", "FactKind", "FactStore", "create_facts_table"]

FactKind = Literal["changed", "shared", "state"]


class Fact(TypedDict):
    step: str
    variable: str
    kind: FactKind
    reason: str
    run_id: str
    learned: float


def create_facts_table(conn: sqlite3.Connection) -> None:
    """Schema version 2: the learned facts of each notebook."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS facts ("
        " notebook TEXT NOT NULL, step TEXT NOT NULL, variable TEXT NOT NULL, kind TEXT NOT NULL,"
        " reason TEXT NOT NULL, run_id TEXT NOT NULL, learned REAL NOT NULL,"
        " PRIMARY KEY (notebook, step, variable))"
    )


class FactStore:
    """The learned facts of the notebooks of one run history."""

    def __init__(self, history: Transactions) -> None:
        self._history = history

    def add(self, notebook: str, step: str, variable: str, *, kind: FactKind, reason: str, run_id: str) -> bool:
        """Record a fact; False when it was known already (the first reason is kept)."""

        def insert(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT OR IGNORE INTO facts (notebook, step, variable, kind, reason, run_id, learned)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (notebook, step, variable, kind, reason, run_id, time.time()),
            )
            return cursor.rowcount > 0

        return self._history.write_transaction(insert)

    def of(self, notebook: str) -> list[Fact]:
        """The notebook's facts, oldest first."""

        def query(c: sqlite3.Connection) -> list[Fact]:
            rows = c.execute(
                "SELECT step, variable, kind, reason, run_id, learned FROM facts WHERE notebook = ?"
                " ORDER BY learned, step, variable",
                (notebook,),
            )
            return [Fact(step=r["step"], variable=r["variable"], kind=r["kind"], reason=r["reason"],
                         run_id=r["run_id"], learned=r["learned"]) for r in rows]

        return self._history.read_transaction(query)

    def forget(self, notebook: str) -> int:
        """Drop a notebook's facts (`mlpipe plan --forget-learned`); how many there were."""

        def delete(c: sqlite3.Connection) -> int:
            return c.execute("DELETE FROM facts WHERE notebook = ?", (notebook,)).rowcount

        return self._history.write_transaction(delete)
