"""Where each value that flows along an edge is defined, and which cells read it.

The designer of the JupyterLab side panel shows, for a variable on an edge, the cell of the
producing step whose definition reaches the step's end and the cells of the consuming step
that read it (up to the cell that binds it again). Pure: it reads a `Pipeline`'s steps and
edges and analyses their cells (`cells.analyze_cell`, cached by text).
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from ..errors import MlpipeError
from .cells import CellAnalysis, analyze_cell
from .model import Step

__all__ = ["Flow", "variable_flows"]

log = logging.getLogger(__name__)


Flow = TypedDict("Flow", {"variable": str, "from": str, "to": str, "defined_in": list[int], "read_in": list[int]})
"""One variable along one edge; cells are notebook cell indices (from 0, nbformat's order)."""


def _analyses(step: Step) -> list[tuple[int, CellAnalysis]]:
    out = []
    for index, body in step.code:
        try:
            out.append((index, analyze_cell(body)))
        except MlpipeError:  # a cell that does not parse: the plan says so elsewhere
            log.debug("flows: cell %s of step %r does not parse", index, step.name)
    return out


def _defining(cells: list[tuple[int, CellAnalysis]], variable: str) -> list[int]:
    """The last cell that binds or changes `variable`: the definition the step's output is."""
    for index, facts in reversed(cells):
        if variable in facts.defs:
            return [index]
    return []


def _reading(cells: list[tuple[int, CellAnalysis]], variable: str) -> list[int]:
    """The cells that read the value the step received, up to (and with) the one that binds it again."""
    found = []
    for index, facts in cells:
        if variable in facts.refs or variable in facts.soft_refs or variable in facts.mutated:
            found.append(index)
        if variable in facts.bound:
            break
    return found


def variable_flows(pipeline: Any) -> list[Flow]:
    """A Flow for every variable on an edge between two steps of this notebook, in edge order.

    Steps of a module (`--module`) are left out: their cells are the module notebook's.
    """
    steps: dict[str, Step] = pipeline.steps
    own = {name: step for name, step in steps.items() if not step.origin}
    analyses = {name: _analyses(step) for name, step in own.items()}
    out: list[Flow] = []
    for edge in pipeline.edges:
        if edge.source not in own or edge.target not in own:
            continue
        for variable in edge.variables:
            out.append(Flow({
                "variable": variable, "from": edge.source, "to": edge.target,
                "defined_in": _defining(analyses[edge.source], variable),
                "read_in": _reading(analyses[edge.target], variable)}))
    return out
