"""Pipeline: the plan of one notebook (steps in notebook order, edges, parameters), and how to make one.

This is the object the other layers work with: the executor walks it; the
CLI, the server and the panel read it. It is plain data over the parts in
`model`; `build_plan`, `Pipeline.from_notebook` and `Pipeline.from_sources`
run the planner (`planner.Planner`) to make one.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_config
from ..env_config import EnvSpec
from ..errors import PlanError
from .compute import compute_targets
from .model import Edge, Param, Step
from .modules import ModuleGroup, ModuleResolver
from .notebook import Cell, classify, read_notebook_cells
from .planner import Planner
from .render import describe_plan

__all__ = ["Pipeline", "build_plan"]


@dataclass
class Pipeline:
    """The plan of a notebook: steps in notebook order, edges, parameters."""

    steps: dict[str, Step]
    edges: list[Edge]
    params: dict[str, Param]
    notebook: str | None = None
    warnings: list[str] = field(default_factory=list)
    learned: dict[str, dict[str, str]] = field(default_factory=dict)
    """Definitions learned at run time (`learned.apply_facts`): step -> {variable: why}."""
    modules: dict[str, ModuleGroup] = field(default_factory=dict)
    """Module steps (`%%step NAME --module SOURCE`) by name: each one node of the plan, expanded in `steps`."""

    # -- construction ------------------------------------------------------
    @classmethod
    def from_notebook(cls, path: str | os.PathLike, *, compute: dict[str, dict] | None = None,
                      envs: dict[str, EnvSpec] | None = None, modules: ModuleResolver | None = None) -> Pipeline:
        """Plan a saved .ipynb file (compute targets and environments: the mlpipe.toml beside it, unless given)."""
        with _gc_paused():
            cells = read_notebook_cells(path)
            if compute is None or envs is None:
                config = load_config(Path(path).resolve().parent)
                compute = config.compute if compute is None else compute
                envs = config.envs if envs is None else envs
            return build_plan(cells, notebook=str(path), compute=compute, envs=envs, modules=modules)

    @classmethod
    def from_sources(cls, sources: Iterable[str | dict], *, notebook: str | None = None,
                     compute: dict[str, dict] | None = None, envs: dict[str, EnvSpec] | None = None,
                     modules: ModuleResolver | None = None) -> Pipeline:
        """Plan a list of code cell sources (a dict may carry 'source' and 'tags')."""
        cells = []
        for index, item in enumerate(sources):
            if isinstance(item, dict):
                cells.append(Cell(index=index, source=item["source"], tags=tuple(item.get("tags", ()))))
            else:
                cells.append(Cell(index=index, source=item))
        return build_plan(classify(cells), notebook=notebook, compute=compute, envs=envs, modules=modules)

    # -- queries -----------------------------------------------------------
    def edge_map(self) -> dict[str, list[Edge]]:
        incoming: dict[str, list[Edge]] = {name: [] for name in self.steps}
        for edge in self.edges:
            incoming[edge.target].append(edge)
        return incoming

    def upstream(self, names: Iterable[str]) -> list[str]:
        """The named steps and everything they need, in notebook order (a module step: all its steps)."""
        wanted = [s for name in names for s in (self.modules[name].steps if name in self.modules else [name])]
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
            "learned": {step: dict(found) for step, found in self.learned.items()},
            **({"modules": {n: g.to_dict() for n, g in self.modules.items()}} if self.modules else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def describe(self, expand: bool = False) -> str:
        """The plan as readable text (the CLI's `mlpipe plan` and `%pipeline plan`): a module step as one
        node, or (`expand`) as its own steps."""
        return describe_plan(self, expand=expand)

    def __repr__(self) -> str:
        return f"<Pipeline {self.notebook or '(cells)'}: {len(self.steps)} steps, {len(self.edges)} edges>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.describe())


def build_plan(cells: list[Cell], *, notebook: str | None = None,
               compute: dict[str, dict] | None = None, envs: dict[str, EnvSpec] | None = None,
               modules: ModuleResolver | None = None) -> Pipeline:
    """Plan classified cells (see notebook.classify); `compute` adds to or overrides DEFAULT_COMPUTE;
    `envs` are the [env.NAME] tables a step's --env may name; `modules` finds a --module SOURCE's notebook
    (default: paths only; `publish.modules` knows published versions too)."""
    with _gc_paused():
        planned = Planner(cells, notebook, compute_targets(compute), envs, modules=modules).run()
        return Pipeline(planned.steps, planned.edges, planned.params, notebook, planned.warnings,
                        modules=dict(planned.modules or {}))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cycle collection while planning.

    Planning makes many short-lived objects (cells, AST nodes, intermediate
    sets) and no reference cycles; collections in the middle would only walk
    the planner's caches again and again. Whatever survives is collected as
    usual afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
