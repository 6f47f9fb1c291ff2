"""Incremental re-planning: the planner's state checkpoints kept for recently planned notebooks.

Split out of `plan.py`. The planner (`plan._Planner.run`) checkpoints its state
every `plan._CHECKPOINT_EVERY` items; a re-plan resumes from the latest
checkpoint before the first changed item (compared by signature).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .notebook import Cell
    from .model import Edge, Step

_MAX_TRACES = 8  # notebooks whose last plan is kept for incremental re-planning


@dataclass
class _Trace:
    signatures: list[tuple]
    checkpoints: dict[int, dict[str, Any]]  # item index -> planner state before that item
    edges: dict[int, tuple[Step, list[Edge]]] = field(default_factory=dict)  # id(step) -> its incoming edges


_TRACES: "OrderedDict[tuple, _Trace]" = OrderedDict()
_TRACES_LOCK = threading.Lock()


_STATE = ("table", "steps", "params", "warnings", "shared_pos", "last_opaque", "shared_names", "shared_epoch",
          "alias_of", "held_by")


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """Copies of the containers the planner changes; what they hold is never changed in place."""
    copy = {key: (value.copy() if isinstance(value, (dict, list, set)) else value) for key, value in state.items()}
    copy["held_by"] = {k: set(v) for k, v in state["held_by"].items()}
    return copy


def _signature(item: Cell | list[Cell]) -> tuple:
    if isinstance(item, list):
        return ("step", item[0].step_line, tuple((c.index, c.body) for c in item))
    return (item.kind, item.index, item.body)
