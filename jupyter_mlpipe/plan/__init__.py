"""The plan layer: a notebook's cells to a step graph. Pure Python (the AST), no execution, no store.

`model` holds the plan as data (Step, Edge, Pipeline), `planner` builds it from
the cells that `notebook` classifies and `cells` analyses; `options` parses the
`%%step` line for both the magic and the planner.
"""

from __future__ import annotations

from .model import Edge, Param, Pipeline, Step
from .planner import DEFAULT_COMPUTE, build_plan, clear_caches

__all__ = ["DEFAULT_COMPUTE", "Edge", "Param", "Pipeline", "Step", "build_plan", "clear_caches"]
