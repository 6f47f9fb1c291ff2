"""Incremental re-planning: checkpoints of the planner's state, kept for recently planned notebooks.

The planner walks a notebook's items (preamble cells, parameters cells, steps)
in order, and its state after item i depends only on items 0..i. So it saves
a `Checkpoint` every few items, and a re-plan of the same notebook resumes
from the latest checkpoint before the first changed item (items are compared
by `signature`), and stops early once its state is again the previous plan's
at a checkpoint with nothing changed after it.

The checkpoints must outlive one planning call (each re-plan after an edit is
a new call), so they live in `TRACES`, a small cache of the last notebooks
planned; it is the one owner of that module-level state, and is thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .aliases import AliasTracker
from .graph import EdgeCache
from .model import Param, Step
from .notebook import Cell
from .symbols import SymbolTable

__all__ = ["TRACES", "Checkpoint", "Signature", "Trace", "TraceCache", "signature"]

Signature = tuple  # what an item's plan depends on: its kind, cells and text
TraceKey = tuple[str | None, str]  # (notebook path, compute targets)


@dataclass(frozen=True)
class Checkpoint:
    """The planner's state before one item.

    Every object reachable from it is treated as immutable once made (the
    planner replaces them instead of changing them), so a checkpoint is a set of
    shallow copies, and restoring one copies again.
    """

    steps: dict[str, Step]
    params: dict[str, Param]
    warnings: list[str]
    last_opaque: str | None  # the latest opaque step
    symbols: SymbolTable
    aliases: AliasTracker


@dataclass
class Trace:
    """The last plan of one notebook: its items' signatures, its checkpoints and its edges."""

    signatures: list[Signature]
    checkpoints: dict[int, Checkpoint]  # item index -> planner state before that item
    edges: EdgeCache = field(default_factory=dict)


class TraceCache:
    """The traces of the last `size` notebooks planned (least recently planned dropped first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._traces: OrderedDict[TraceKey, Trace] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: TraceKey) -> Trace | None:
        with self._lock:
            return self._traces.get(key)

    def put(self, key: TraceKey, trace: Trace) -> None:
        with self._lock:
            self._traces[key] = trace
            self._traces.move_to_end(key)
            while len(self._traces) > self.size:
                self._traces.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()


TRACES = TraceCache(size=8)  # notebooks whose last plan is kept for incremental re-planning


def signature(item: Cell | list[Cell]) -> Signature:
    """An item's identity for re-planning: a step (its cells) or a preamble or parameters cell."""
    if isinstance(item, list):
        return ("step", item[0].step_line, tuple((c.index, c.body) for c in item))
    return (item.kind, item.index, item.body)
