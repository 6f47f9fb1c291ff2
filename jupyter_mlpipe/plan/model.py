"""The plan as data: Param, Step, Edge and Pipeline, and the check that the step graph has no cycle.

Split out of `plan.py`, which builds these objects; the executor, the CLI, the
server and the panel only read them. `Pipeline.from_notebook` and
`Pipeline.from_sources` call the planner (`plan.build_plan`), imported on use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .cells import SharedDef
from ..errors import PlanError
from .notebook import Cell, classify, read_notebook_cells
from .options import StepOptions


@dataclass(frozen=True)
class Param:
    """A pipeline parameter from the cell tagged `parameters`."""

    name: str
    source: str
    default: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "default": _jsonable(self.default)}


@dataclass
class Step:
    """One step: its cells, what flows in and out, and what it asks for."""

    name: str
    options: StepOptions
    position: int
    line: str = ""  # the text after %%step, as written
    cells: list[int] = field(default_factory=list)
    code: list[tuple[int, str]] = field(default_factory=list)  # (notebook cell index, body)
    inputs: list[str] = field(default_factory=list)
    input_sources: dict[str, str] = field(default_factory=dict)  # variable -> producing step
    outputs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    shared: list[SharedDef] = field(default_factory=list)
    opaque: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)  # value -> values it may hold or share
    shared_names: list[str] = field(default_factory=list)  # names of the shared code it uses

    def to_dict(self) -> dict[str, Any]:
        options = self.options.to_dict()
        options.pop("name")
        if self.opaque:
            options["opaque"] = self.opaque
        return {
            "name": self.name,
            "cells": list(self.cells),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "params": list(self.params),
            "resources": dict(self.resources),
            "options": options,
            "shared": list(self.shared_names) or sorted({s.name for s in self.shared if s.kind != "setup"}),
            "aliases": {k: list(v) for k, v in self.aliases.items()},
        }


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    variables: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "variables": list(self.variables)}


@dataclass
class Pipeline:
    """The plan of a notebook: steps in notebook order, edges, parameters."""

    steps: dict[str, Step]
    edges: list[Edge]
    params: dict[str, Param]
    notebook: str | None = None
    warnings: list[str] = field(default_factory=list)

    # -- construction ------------------------------------------------------
    @classmethod
    def from_notebook(cls, path: str | os.PathLike, *, compute: dict[str, dict] | None = None) -> "Pipeline":
        """Plan a saved .ipynb file."""
        from .planner import _gc_paused, build_plan

        with _gc_paused():
            cells = read_notebook_cells(path)
            if compute is None:
                from ..config import load_config

                compute = load_config(Path(path).resolve().parent).compute
            return build_plan(cells, notebook=str(path), compute=compute)

    @classmethod
    def from_sources(cls, sources: Iterable[str | dict], *, notebook: str | None = None,
                     compute: dict[str, dict] | None = None) -> "Pipeline":
        """Plan a list of code cell sources (a dict may carry 'source' and 'tags')."""
        from .planner import build_plan

        cells = []
        for index, item in enumerate(sources):
            if isinstance(item, dict):
                cells.append(Cell(index=index, source=item["source"], tags=tuple(item.get("tags", ()))))
            else:
                cells.append(Cell(index=index, source=item))
        return build_plan(classify(cells), notebook=notebook, compute=compute)

    # -- queries -----------------------------------------------------------
    def edge_map(self) -> dict[str, list[Edge]]:
        incoming: dict[str, list[Edge]] = {name: [] for name in self.steps}
        for edge in self.edges:
            incoming[edge.target].append(edge)
        return incoming

    def upstream(self, names: Iterable[str]) -> list[str]:
        """The named steps and everything they need, in notebook order."""
        wanted = list(names)
        for name in wanted:
            if name not in self.steps:
                raise PlanError(
                    f"No step named {name!r} in this notebook.",
                    step=name,
                    hint=f"Steps are: {', '.join(self.steps) or '(none)'}.",
                )
        incoming = self.edge_map()
        seen: set[str] = set()
        stack = list(wanted)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(e.source for e in incoming[name])
        return [n for n in self.steps if n in seen]

    def final_steps(self) -> list[str]:
        """Steps nothing depends on."""
        sources = {e.source for e in self.edges}
        return [n for n in self.steps if n not in sources]

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "steps": [s.to_dict() for s in self.steps.values()],
            "edges": [e.to_dict() for e in self.edges],
            "params": {n: p.to_dict() for n, p in self.params.items()},
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def describe(self) -> str:
        """The plan as readable text (the CLI's `mlpipe plan` and `%pipeline plan`)."""
        from .render import describe_plan

        return describe_plan(self)

    def __repr__(self) -> str:
        return f"<Pipeline {self.notebook or '(cells)'}: {len(self.steps)} steps, {len(self.edges)} edges>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.describe())


def _check_acyclic(steps: dict[str, Step], edges: list[Edge]) -> None:
    outgoing: dict[str, list[str]] = {n: [] for n in steps}
    indegree = {n: 0 for n in steps}
    for e in edges:
        outgoing[e.source].append(e.target)
        indegree[e.target] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for m in outgoing[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if done != len(steps):
        cycle = _find_cycle({n: [m for m in outgoing[n] if indegree[m] > 0] for n, d in indegree.items() if d > 0})
        after = [e for e in edges if not e.variables and (e.source, e.target) in zip(cycle, cycle[1:])]
        made_by = f" (made by --after on step {after[0].target!r})" if after else ""
        raise PlanError(
            f"Steps wait for each other in a cycle: {' -> '.join(cycle)}{made_by}.",
            step=cycle[0],
            hint="Remove the --after that points to a later step which already depends on this one.",
        )


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One cycle of a graph where every node is on or downstream of a cycle: [a, b, ..., a]."""
    start = next(iter(graph))
    path, index = [start], {start: 0}
    node = start
    while True:
        node = next(m for m in graph[node] if m in graph)
        if node in index:
            return path[index[node]:] + [node]
        index[node] = len(path)
        path.append(node)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
