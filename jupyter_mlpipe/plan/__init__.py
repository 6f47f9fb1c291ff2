"""The plan layer: a notebook's cells to a step graph. Pure Python (the AST), no execution, no store.

From the bottom up: `source` turns a cell's text into Python; `nodes`, `scope`,
`shared` and `magics` answer questions about its AST, which `cells` combines
into what one cell defines and uses, and `step_facts` into what one step does.
`notebook` classifies a notebook's cells and `options` parses the `%%step`
line (for the kernel magic too). The planner (`planner`) walks the items in
order with a symbol table (`symbols`) and an alias tracker (`aliases`),
explains failures (`diagnostics`), checkpoints for re-planning (`replan`) and
ends with the edges (`graph`); `compute` resolves a step's resources. The result is data: the parts in `model`, held
by a `pipeline.Pipeline`, shown as text by `render`.

Other layers import from here, or from a module's `__all__`.
"""

from __future__ import annotations

from .compute import DEFAULT_COMPUTE
from .model import Edge, Param, Step
from .pipeline import Pipeline, build_plan
from .planner import clear_caches

__all__ = ["DEFAULT_COMPUTE", "Edge", "Param", "Pipeline", "Step", "build_plan", "clear_caches"]
