"""From classified cells to a step graph: Step, Edge, Pipeline and the planning rules.

The rules are PRODUCT.md section 3; docs/concepts.md explains them with
examples. Building the plan is separate from running it: a Pipeline is plain
data that the executor walks.
"""

from __future__ import annotations

import builtins
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .analysis import CellAnalysis, CellSyntaxError, SharedDef, analyze_cell
from .errors import PlanError
from .notebook import Cell, classify, read_notebook_cells
from .options import StepOptions, parse_step_line

__all__ = ["Step", "Edge", "Param", "Pipeline", "build_plan", "DEFAULT_COMPUTE"]

_KNOWN_NAMES = frozenset(dir(builtins)) | {
    "get_ipython", "display", "In", "Out", "_", "__", "___", "_ih", "_oh", "_dh", "exit", "quit",
    "__file__", "__name__", "__builtins__", "__vsc_ipynb_file__",
}
DEFAULT_COMPUTE: dict[str, dict[str, Any]] = {
    "cpu": {"num_cpus": 1},
    "gpu": {"num_cpus": 1, "num_gpus": 1},
}


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
            "shared": sorted({s.name for s in self.shared if s.kind != "setup"}),
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
        cells = read_notebook_cells(path)
        if compute is None:
            from .config import load_config

            compute = load_config(Path(path).resolve().parent).compute
        return build_plan(cells, notebook=str(path), compute=compute)

    @classmethod
    def from_sources(cls, sources: Iterable[str | dict], *, notebook: str | None = None,
                     compute: dict[str, dict] | None = None) -> "Pipeline":
        """Plan a list of code cell sources (a dict may carry 'source' and 'tags')."""
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


# ---------------------------------------------------------------------------
# building


@dataclass
class _Def:
    """A definition of a name, in notebook order."""

    kind: str  # "step" | "shared" | "computed" | "param"
    cell: int
    step: str | None = None
    shared: list[SharedDef] = field(default_factory=list)


class _Planner:
    def __init__(self, cells: list[Cell], notebook: str | None, compute: dict[str, dict]) -> None:
        self.cells = cells
        self.notebook = notebook
        self.compute = compute
        self.table: dict[str, _Def] = {}
        self.later: dict[str, tuple[str, int]] = {}  # name -> first step (and cell) that defines it
        self.steps: dict[str, Step] = {}
        self.params: dict[str, Param] = {}
        self.warnings: list[str] = []
        self.star_cache: dict[str, list[str]] = {}
        self.shared_pos: dict[int, tuple[int, int]] = {}

    # -- helpers -----------------------------------------------------------
    def analyze(self, cell: Cell) -> CellAnalysis:
        try:
            return analyze_cell(cell.body)
        except CellSyntaxError as exc:
            offset = 1 if cell.kind == "step" else 0
            line = (exc.lineno or 0) + offset
            where = f"step {cell.step!r}, " if cell.step else ""
            raise PlanError(
                f"Syntax error in {where}cell {cell.index} line {line}: {exc.msg}.",
                step=cell.step,
                cell=cell.index,
                hint="Fix the code in that cell; the plan is made from the saved notebook.",
            ) from None

    def place(self, sdef: SharedDef, cell: Cell) -> SharedDef:
        self.shared_pos.setdefault(id(sdef), (cell.index, len(self.shared_pos)))
        return sdef

    def register_shared(self, sdefs: Iterable[SharedDef], cell: Cell) -> None:
        for sdef in sdefs:
            if sdef.kind == "setup":
                continue
            if sdef.name == "*":
                for name in self.resolve_star(sdef, cell):
                    star = self.place(SharedDef(name, "import", sdef.source), cell)
                    self.table[name] = _Def("shared", cell.index, shared=[star])
                continue
            self.table[sdef.name] = _Def("shared", cell.index, shared=[self.place(sdef, cell)])

    def resolve_star(self, sdef: SharedDef, cell: Cell) -> list[str]:
        module = sdef.module or ""
        if module not in self.star_cache:
            try:
                mod = importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - any import failure is a plan error
                raise PlanError(
                    f"Cannot resolve `from {module} import *` in cell {cell.index}: importing {module!r} "
                    f"failed ({type(exc).__name__}: {exc}).",
                    step=cell.step,
                    cell=cell.index,
                    variable="*",
                    hint=f"Import the names you use explicitly: from {module} import a, b.",
                ) from None
            names = getattr(mod, "__all__", None)
            if names is None:
                names = [n for n in dir(mod) if not n.startswith("_")]
            self.star_cache[module] = [str(n) for n in names]
        return self.star_cache[module]

    def attach_setup(self, analysis: CellAnalysis, cell: Cell) -> set[str]:
        """Preamble lines like `np.random.seed(0)` travel with the module they configure."""
        handled = set()
        for sdef in analysis.setup:
            found = self.table.get(sdef.name)
            if found is not None and found.kind == "shared":
                found.shared.append(self.place(sdef, cell))
                handled.add(sdef.name)
        return handled

    # -- the walk ----------------------------------------------------------
    def run(self) -> "Pipeline":
        self.index_later_definitions()
        group: list[Cell] = []
        for cell in self.cells:
            if cell.kind == "step":
                if group:
                    self.step_group(group)
                group = [cell]
            elif cell.kind == "continuation":
                group.append(cell)
            elif cell.kind == "preamble":
                self.preamble(cell)
            elif cell.kind == "parameters":
                self.parameters(cell)
        if group:
            self.step_group(group)
        return self.finish()

    def index_later_definitions(self) -> None:
        step_cells: dict[str, list[Cell]] = {}
        for cell in self.cells:
            if cell.kind in ("step", "continuation") and cell.step:
                step_cells.setdefault(cell.step, []).append(cell)
        self.cells_of = step_cells
        for name, cells in step_cells.items():
            for cell in cells:
                try:
                    analysis = analyze_cell(cell.body)
                except CellSyntaxError:
                    continue
                for var in analysis.defs:
                    self.later.setdefault(var, (name, cell.index))

    def preamble(self, cell: Cell) -> None:
        analysis = self.analyze(cell)
        self.register_shared(analysis.shared, cell)
        handled = self.attach_setup(analysis, cell)
        for name in analysis.computed:
            if name not in handled:
                self.table[name] = _Def("computed", cell.index)
        for name in analysis.mutated:
            if name not in handled and self.table.get(name, _Def("", 0)).kind != "shared":
                self.table[name] = _Def("computed", cell.index)

    def parameters(self, cell: Cell) -> None:
        import ast

        analysis = self.analyze(cell)
        self.register_shared([s for s in analysis.shared if s.kind != "const"], cell)
        tree = ast.parse(analysis.code) if analysis.code.strip() else ast.Module(body=[], type_ignores=[])
        sources: dict[str, tuple[str, Any]] = {}
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and getattr(node, "value", None) is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError):
                    value = None
                for target in targets:
                    if isinstance(target, ast.Name):
                        sources[target.id] = (ast.get_source_segment(analysis.code, node) or "", value)
        for name in analysis.defs:
            source, value = sources.get(name, ("", None))
            self.params[name] = Param(name, source, value)
            self.table[name] = _Def("param", cell.index)

    def step_group(self, cells: list[Cell]) -> None:
        head = cells[0]
        try:
            options = parse_step_line(head.step_line or "")
        except PlanError as exc:
            raise PlanError(
                f"Cell {head.index}: {exc.message}", step=head.step or None, cell=head.index, hint=exc.hint
            ) from None
        if options.name in self.steps:
            first = self.steps[options.name]
            raise PlanError(
                f"Duplicate step name {options.name!r}: cell {head.index} and cell {first.cells[0]} both "
                f"start a step called {options.name!r}.",
                step=options.name,
                cell=head.index,
                hint="Give each %%step a unique name.",
            )
        step = Step(name=options.name, options=options, position=len(self.steps), line=head.step_line or "")
        step.cells = [c.index for c in cells]
        step.code = [(c.index, c.body) for c in cells]
        self.plan_step(step, cells)
        self.steps[step.name] = step

    def plan_step(self, step: Step, cells: list[Cell]) -> None:
        bound: set[str] = set()
        refs: dict[str, int] = {}
        defs: dict[str, None] = {}
        mutated: set[str] = set()
        loads: set[str] = set()
        local_shared: dict[str, SharedDef] = {}
        aliases: dict[str, set[str]] = {}
        opaque = None
        for cell in cells:
            analysis = self.analyze(cell)
            for name in analysis.refs:
                if name not in bound and name not in refs:
                    refs[name] = cell.index
            for sdef in analysis.shared:
                if sdef.kind in ("import", "def", "class"):
                    names = self.resolve_star(sdef, cell) if sdef.name == "*" else [sdef.name]
                    for name in names:
                        local_shared[name] = self.place(
                            sdef if sdef.name != "*" else SharedDef(name, "import", sdef.source), cell)
                        bound.add(name)
                        defs.pop(name, None)
            for name in analysis.defs:
                if name in analysis.mutated and name not in bound and self._is_shared(name, local_shared):
                    continue  # `np.random.seed(0)`: using a module, not changing a value
                defs[name] = None
                bound.add(name)
                local_shared.pop(name, None)
            mutated |= {n for n in analysis.mutated if not self._is_shared(n, local_shared) or n in defs}
            loads |= analysis.loads
            for a, b in analysis.aliases:
                aliases.setdefault(a, set()).add(b)
            opaque = opaque or (analysis.opaque and f"cell {cell.index} {analysis.opaque}")
        # mutation through aliases: `for d in [train, test]: d['x'] = 1` changes train and test
        for name in list(mutated):
            stack, seen = [name], {name}
            while stack:
                for target in aliases.get(stack.pop(), ()):
                    if target not in seen:
                        seen.add(target)
                        stack.append(target)
                        if not self._is_shared(target, local_shared):
                            defs.setdefault(target, None)
                            if target not in bound or target in refs:
                                refs.setdefault(target, step.cells[0])
        # shared code used by this step (rule 4: functions carry their free variables)
        used: dict[int, SharedDef] = {}
        pending = [n for n in loads if n in local_shared or self._is_shared(n, {})]
        pending += [n for n in refs if self._is_shared(n, {})]
        free_refs: dict[str, str] = {}
        seen_names: set[str] = set()
        for sdef in local_shared.values():
            for w in sdef.global_writes:
                defs.setdefault(w, None)
        while pending:
            name = pending.pop()
            if name in seen_names:
                continue
            seen_names.add(name)
            sdefs = [local_shared[name]] if name in local_shared else self.table[name].shared
            for sdef in sdefs:
                used[id(sdef)] = sdef
                for free in sdef.free:
                    if free in local_shared or self._is_shared(free, local_shared):
                        if free not in bound or free in local_shared:
                            pending.append(free)
                    elif free not in bound:
                        free_refs.setdefault(free, name)
                for w in sdef.global_writes:
                    defs.setdefault(w, None)
        step.shared = self._ordered_shared(used.values())
        # resolve value references
        if step.options.inputs is not None:
            wanted = {n: step.cells[0] for n in step.options.inputs}
        else:
            wanted = {n: c for n, c in refs.items() if n not in local_shared and not self._is_shared(n, local_shared)}
        inputs: dict[str, str] = {}
        params: set[str] = set()
        for name, cell_index in wanted.items():
            self.resolve(step, name, cell_index, inputs, params, strict=True)
        for name, via in free_refs.items():
            if name in wanted or name in inputs:
                continue
            self.resolve(step, name, step.cells[0], inputs, params, strict=False, via=via)
        if opaque:
            step.opaque = opaque
            for name, d in self.table.items():
                if d.kind == "step" and not name.startswith("_"):
                    inputs.setdefault(name, d.step)  # type: ignore[arg-type]
            self.warnings.append(
                f"Step {step.name!r} is opaque ({opaque}): it runs after every earlier step and receives "
                "all their values."
            )
        step.inputs = sorted(inputs)
        step.input_sources = {n: inputs[n] for n in step.inputs}
        step.params = sorted(params)
        outputs = list(step.options.outputs) if step.options.outputs is not None else [
            n for n in defs if not n.startswith("_") and n not in local_shared
        ]
        step.outputs = sorted(outputs)
        step.resources = self.resources(step)
        for name in step.outputs:
            self.table[name] = _Def("step", step.cells[0], step=step.name)
        for name, sdef in local_shared.items():
            self.table[name] = _Def("shared", step.cells[0], shared=[sdef])

    def _is_shared(self, name: str, local_shared: dict[str, SharedDef]) -> bool:
        if name in local_shared:
            return True
        found = self.table.get(name)
        return found is not None and found.kind == "shared"

    def _ordered_shared(self, sdefs: Iterable[SharedDef]) -> list[SharedDef]:
        """Shared code in notebook order, each statement once."""
        result, seen = [], set()
        for sdef in sorted(sdefs, key=lambda d: self.shared_pos.get(id(d), (10**9, 0))):
            key = (sdef.kind == "setup", sdef.source)
            if key not in seen:
                seen.add(key)
                result.append(sdef)
        return result

    def resolve(self, step: Step, name: str, cell_index: int, inputs: dict[str, str], params: set[str],
                *, strict: bool, via: str | None = None) -> None:
        found = self.table.get(name)
        reader = f"step {step.name!r} (cell {cell_index})" + (f", through {via}()," if via else "")
        if found is not None and found.kind == "step":
            if name.startswith("_"):
                raise PlanError(
                    f"{reader} uses {name!r}, which step {found.step!r} keeps private: names starting "
                    "with an underscore are not passed between steps.",
                    step=step.name, cell=cell_index, variable=name,
                    hint=f"Rename it without the underscore in step {found.step!r}.",
                )
            inputs[name] = found.step  # type: ignore[assignment]
            return
        if found is not None and found.kind == "param":
            params.add(name)
            return
        if found is not None and found.kind == "shared":
            return
        if found is not None and found.kind == "computed":
            if not strict:
                self.warnings.append(f"{reader} reads {name!r}, computed in preamble cell {found.cell}, not in a step.")
                return
            raise PlanError(
                f"{reader} uses {name!r}, which is computed in cell {found.cell} before the first step "
                "(the preamble), not in a step.",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Move the code that computes {name!r} into a step (put %%step NAME on its cell), "
                "or make it a literal constant; the preamble may hold only imports, functions, classes, "
                "literal constants and the parameters cell.",
            )
        if name in _KNOWN_NAMES:
            return
        if not strict:
            self.warnings.append(f"{reader} reads {name!r}, which no earlier cell defines.")
            return
        later = self.later.get(name)
        if later is not None:
            raise PlanError(
                f"{reader} uses {name!r} before any step defines it; step {later[0]!r} (cell {later[1]}) "
                "defines it later.",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Move step {step.name!r} after step {later[0]!r}, or define {name!r} earlier.",
            )
        raise PlanError(
            f"{reader} uses {name!r}, which no cell of the notebook defines.",
            step=step.name, cell=cell_index, variable=name,
            hint=f"Define {name!r} in an earlier step, in the parameters cell, or as a literal constant "
            "before the first step.",
        )

    def resources(self, step: Step) -> dict[str, Any]:
        options = step.options
        target = options.compute or "cpu"
        if target not in self.compute:
            raise PlanError(
                f"Step {step.name!r} asks for --compute {target}, which is not a known compute target.",
                step=step.name, cell=step.cells[0],
                hint=f"Known targets: {', '.join(sorted(self.compute))}; define more in mlpipe.toml "
                f"under [compute.{target}].",
            )
        spec = dict(self.compute[target])
        if options.cpus is not None:
            spec["num_cpus"] = options.cpus
        if options.gpus is not None:
            spec["num_gpus"] = options.gpus
        if options.memory is not None:
            spec["memory"] = options.memory
        spec.setdefault("num_cpus", 1)
        return {"compute": target, **spec}

    def finish(self) -> "Pipeline":
        # a continuation cell with no step above it cannot happen (classify makes it preamble)
        incoming: dict[tuple[str, str], set[str]] = {}
        for step in self.steps.values():
            for name, source in step.input_sources.items():
                incoming.setdefault((source, step.name), set()).add(name)
            if step.opaque:
                for other in self.steps.values():
                    if other.position < step.position:
                        incoming.setdefault((other.name, step.name), set())
            for after in step.options.after:
                if after not in self.steps and after not in self.cells_of:
                    raise PlanError(
                        f"Step {step.name!r} (cell {step.cells[0]}) runs --after {after!r}, but no step "
                        f"is called {after!r}.",
                        step=step.name, cell=step.cells[0], variable=after,
                        hint=f"Steps are: {', '.join(self.cells_of)}.",
                    )
                incoming.setdefault((after, step.name), set())
        edges = [Edge(s, t, tuple(sorted(v))) for (s, t), v in incoming.items()]
        order = {name: i for i, name in enumerate(self.steps)}
        edges.sort(key=lambda e: (order[e.target], order[e.source]))
        _check_acyclic(self.steps, edges)
        return Pipeline(self.steps, edges, self.params, self.notebook, self.warnings)


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
        cycle = sorted(n for n, d in indegree.items() if d > 0)
        raise PlanError(
            f"The steps {', '.join(map(repr, cycle))} wait for each other (a cycle, made by --after).",
            step=cycle[0],
            hint="Remove the --after that points to a later step which already depends on this one.",
        )


def build_plan(cells: list[Cell], *, notebook: str | None = None,
               compute: dict[str, dict] | None = None) -> Pipeline:
    """Plan classified cells (see notebook.classify)."""
    targets = dict(DEFAULT_COMPUTE)
    targets.update(compute or {})
    return _Planner(cells, notebook, targets).run()


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
