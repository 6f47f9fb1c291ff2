"""What the run history's parts share to run SQL: the transaction interface, and statement helpers.

`History` owns the SQLite connection and its transactions; the classes that
query the same file for one purpose (`HistoryReader` reads runs back,
`GcQueries` serves the garbage collector) are given the history as a
`Transactions`: a read and a write transaction, the file's path for messages,
and this machine's name. That is all they may rely on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

__all__ = ["Transactions", "chunks", "is_locked", "placeholders"]

T = TypeVar("T")


class Transactions(Protocol):
    """Short transactions on the run history's SQLite file (implemented by `History`)."""

    @property
    def path(self) -> str:
        """The SQLite file, for messages."""
        ...

    @property
    def host(self) -> str:
        """This machine's name: a run recorded here with a dead pid has lost its driver."""
        ...

    def read_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one read transaction (its SELECTs see one snapshot)."""
        ...

    def write_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one short write transaction, retried while another process writes."""
        ...


def is_locked(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (worth a retry)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def placeholders(n: int) -> str:
    """`?,?,...` for an `IN (...)` list of n values."""
    return ",".join("?" * n)


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """`items` in slices small enough for one statement's variables."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
