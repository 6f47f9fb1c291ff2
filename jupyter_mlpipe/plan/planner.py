"""The planner: from a notebook's classified cells to steps that know their inputs, outputs and code.

The rules are PRODUCT.md section 3; docs/concepts.md explains them with
examples. `Planner` walks a notebook's items in order: preamble cells (shared
code and constants), parameters cells, and steps (a `%%step` cell with its
continuation cells). For each step it takes what its cells define and use
(`step_facts`), follows the values it changes in place (`aliases`), gathers
the shared code it must replay and binds every name it reads to the nearest
earlier definition (`reads`, over the `symbols` table), then records what
later steps see. The edges follow from the inputs (`graph`).

Re-planning is incremental at three levels: each cell's analysis is cached by
its text (`cells.analyze_cell`), each step's combined facts by its cells'
texts (`step_facts`), and the planner's state is checkpointed every
`_CHECKPOINT_EVERY` items (`replan`), so a re-plan resumes from the last
checkpoint before the first changed cell. Plans share Step objects with these
checkpoints: treat a plan's steps as read-only.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

from ..env_config import EnvSpec
from ..errors import PlanError
from ..vocab import cell_number
from .aliases import AliasTracker
from .cells import CellAnalysis, analyze_cell
from .compute import ComputeTargets, step_resources
from .diagnostics import star_error, syntax_error
from .fanout import fanout_names, is_fanout
from .graph import EdgeCache, check_acyclic, plan_edges
from .model import Edge, Param, Step
from .modules import (ModuleGroup, ModuleResolver, ModuleSource, binding_error, check_cycle, is_module_line,
                      plan_module_step, resolve_path)
from .notebook import Cell, read_notebook_cells
from .options import parse_step_line
from .reads import bind_reads, changes, resolve, use_shared_code
from .replan import TRACES, Checkpoint, Signature, Trace, signature
from .shared import star_defs, star_names
from .source import CellSyntaxError, to_python
from .step_facts import CellFailure, StepFacts, step_facts
from .symbols import KNOWN_NAMES, Definition, SymbolTable

__all__ = ["PlannedSteps", "Planner", "clear_caches"]

_CHECKPOINT_EVERY = 64  # items (preamble cells, parameters cells, steps) between checkpoints; tests lower it

Item = Cell | list[Cell]  # a preamble or parameters cell, or the cells of one step


class PlannedSteps(NamedTuple):
    """What planning a notebook gives: the parts of a pipeline.Pipeline."""

    steps: dict[str, Step]  # in notebook order
    edges: list[Edge]
    params: dict[str, Param]
    warnings: list[str]
    modules: dict[str, ModuleGroup] | None = None  # module steps (`modules`), by name


class Planner:
    """One planning of one notebook: `run` walks its items and returns the steps and edges.

    The state a checkpoint saves (`replan.Checkpoint`) is the steps so far,
    the parameters, the warnings, the latest opaque step, the symbol table and
    the alias tracker; the planner owns them and replaces them on `restore`.
    """

    def __init__(self, cells: list[Cell], notebook: str | None, compute: ComputeTargets,
                 envs: dict[str, EnvSpec] | None = None, *, modules: ModuleResolver | None = None,
                 within: tuple[str, ...] = (), base: str | None = None) -> None:
        self.cells = cells
        self.resolver: ModuleResolver = modules or resolve_path  # --module SOURCE -> its notebook
        self.within = within  # the modules (identities) this notebook is planned inside of: cycles
        self.base = Path(base) if base else Path(notebook).resolve().parent if notebook else Path.cwd()
        self.module_groups: dict[str, ModuleGroup] = {}
        self.notebook = notebook
        self.compute = compute
        self.envs = envs or {}  # [env.NAME] tables of mlpipe.toml
        self.groups: list[list[Cell]] = []  # the cells of each step, for error messages
        self.steps: dict[str, Step] = {}
        self.params: dict[str, Param] = {}
        self.warnings: list[str] = []
        self.last_opaque: str | None = None  # the latest opaque step
        self.symbols = SymbolTable()
        self.aliases = AliasTracker()
        self.edge_cache: EdgeCache = {}

    # -- the walk --------------------------------------------------------------------
    def run(self) -> PlannedSteps:
        order = self.items()
        signatures = [signature(item) for item in order]
        trace_key = (self.notebook, repr(sorted(self.compute.items())), repr(sorted(self.envs.items())))
        # a module's notebook can change while this one does not: no checkpoints for a notebook with modules
        modular = any(isinstance(item, list) and is_module_line(item[0].step_line) for item in order)
        trace = None if modular else TRACES.get(trace_key)
        start, checkpoints = self.resume(trace, signatures)
        planned: list[str] = []  # steps planned in this run
        converged = False
        for i in range(start, len(order)):
            if i % _CHECKPOINT_EVERY == 0 and i not in checkpoints:
                if trace is not None and self.converged(trace, signatures, i, planned):
                    # the state is what the previous plan had here and nothing after changed: take the
                    # rest from it, with this run's Step objects for the steps planned again
                    fresh = {name: self.steps[name] for name in planned}
                    for index, state in trace.checkpoints.items():
                        if index >= i:
                            checkpoints[index] = dataclasses.replace(
                                state, steps={n: fresh.get(n, s) for n, s in state.steps.items()})
                    self.restore(checkpoints[len(order)])
                    converged = True
                    break
                checkpoints[i] = self.snapshot()
            item = order[i]
            if isinstance(item, list):
                self.step_group(item)
                planned.append(next(reversed(self.steps)))
            elif item.kind == "preamble":
                self.preamble(item)
            else:
                self.parameters(item)
        if not converged and len(order) not in checkpoints:
            checkpoints[len(order)] = self.snapshot()
        edges, self.edge_cache = plan_edges(self.steps, self.edge_cache)
        check_acyclic(self.steps, edges)
        if not modular:
            TRACES.put(trace_key, Trace(signatures, checkpoints, self.edge_cache))
        return PlannedSteps(self.steps, edges, self.params, self.warnings, self.module_groups)

    def items(self) -> list[Item]:
        """The preamble and parameters cells and the steps, in notebook order (other cells take no part)."""
        group: list[Cell] = []
        order: list[Item] = []
        for cell in self.cells:
            if cell.kind == "step":
                group = [cell]
                self.groups.append(group)
                order.append(group)
            elif cell.kind == "continuation" and group:
                group.append(cell)
            elif cell.kind in ("preamble", "parameters"):
                order.append(cell)
        return order

    # -- checkpoints (incremental re-planning) ------------------------------------------
    def resume(self, trace: Trace | None, signatures: list[Signature]) -> tuple[int, dict[int, Checkpoint]]:
        """Restore the latest checkpoint before the first changed item: its index and the checkpoints kept."""
        if trace is None:
            return 0, {}
        same = 0
        for old, new in zip(trace.signatures, signatures):
            if old != new:
                break
            same += 1
        self.edge_cache = trace.edges
        usable = [i for i in trace.checkpoints if i <= same]
        if not usable:
            return 0, {}
        start = max(usable)
        self.restore(trace.checkpoints[start])
        return start, {i: c for i, c in trace.checkpoints.items() if i <= start}

    def snapshot(self) -> Checkpoint:
        return Checkpoint(self.steps.copy(), self.params.copy(), self.warnings.copy(), self.last_opaque,
                          self.symbols.copy(), self.aliases.copy())

    def restore(self, checkpoint: Checkpoint) -> None:
        self.steps = checkpoint.steps.copy()
        self.params = checkpoint.params.copy()
        self.warnings = checkpoint.warnings.copy()
        self.last_opaque = checkpoint.last_opaque
        self.symbols = checkpoint.symbols.copy()
        self.aliases = checkpoint.aliases.copy()

    def converged(self, trace: Trace, signatures: list[Signature], index: int, planned: list[str]) -> bool:
        """Does re-planning from `index` on repeat the previous plan? (Same items from here, same state.)"""
        old = trace.checkpoints.get(index)
        final = trace.checkpoints.get(len(signatures))
        if old is None or final is None or len(trace.signatures) != len(signatures):
            return False
        if trace.signatures[index:] != signatures[index:]:
            return False
        if list(self.steps) != list(old.steps):
            return False
        if not (self.symbols.same_as(old.symbols) and self.params == old.params and self.warnings == old.warnings
                and self.last_opaque == old.last_opaque and self.aliases.same_as(old.aliases)):
            return False
        # a step planned again must not have been changed later on (an opaque step gaining outputs)
        return all(final.steps.get(n) is old.steps.get(n) for n in planned)

    # -- preamble and parameters ----------------------------------------------------------
    def analyze(self, cell: Cell) -> CellAnalysis:
        try:
            return analyze_cell(cell.body)
        except CellSyntaxError as exc:
            raise syntax_error(cell, exc) from None

    def preamble(self, cell: Cell) -> None:
        analysis = self.analyze(cell)
        symbols = self.symbols
        symbols.define_shared(analysis.shared, cell)
        handled = symbols.attach_setup(analysis.setup, cell.index)
        for name in analysis.computed:
            if name not in handled:
                symbols.define(name, Definition("computed", cell.index))
        for name in analysis.mutated:
            if name not in handled and not symbols.is_shared(name):
                symbols.define(name, Definition("computed", cell.index))

    def parameters(self, cell: Cell) -> None:
        analysis = self.analyze(cell)
        self.symbols.define_shared([s for s in analysis.shared if s.kind != "const"], cell)
        sources = _parameter_sources(analysis.code)
        for name in analysis.defs:
            source, value = sources.get(name, ("", None))
            self.params[name] = Param(name, source, value)
            self.symbols.define(name, Definition("param", cell.index))

    # -- steps ------------------------------------------------------------------------------
    def step_group(self, cells: list[Cell]) -> None:
        head = cells[0]
        try:
            options = parse_step_line(head.step_line or "")
        except PlanError as exc:
            raise type(exc)(
                f"Cell {cell_number(head.index)}: {exc.message}", step=exc.step or head.step or None, cell=head.index,
                variable=exc.variable, hint=exc.hint,
            ) from None
        if options.name in self.steps:
            first = self.steps[options.name]
            raise PlanError(
                f"Duplicate step name {options.name!r}: cell {cell_number(head.index)} and cell {cell_number(first.cells[0])} both "
                f"start a step called {options.name!r}.",
                step=options.name,
                cell=head.index,
                hint="Give each %%step a unique name.",
            )
        if options.module is not None:  # another notebook as this step (`modules`)
            plan_module_step(self, options, cells)
            return
        if is_fanout(options) and len(cells) > 1:
            raise PlanError(
                f"Step {options.name!r} fans out (--foreach/--files), and a fan-out step is its one cell, but "
                f"cell {cell_number(cells[1].index)} after it would belong to it.",
                step=options.name, cell=cells[1].index,
                hint="Start that cell with %%step NAME (or %%scratch), or move its code into the fan-out cell.")
        step = Step(name=options.name, options=options, position=len(self.steps), line=head.step_line or "")
        step.cells = [c.index for c in cells]
        step.code = [(c.index, c.body) for c in cells]
        self.plan_step(step, cells)
        self.steps[step.name] = step

    # -- module steps (`modules.plan_module_step` calls these) ---------------------------------
    def resolve_module(self, source: str, step: str) -> ModuleSource:
        return self.resolver(source, base=self.base, step=step)

    def plan_module(self, source: ModuleSource, step: str) -> PlannedSteps:
        """Plan a module's notebook (refusing a module that uses itself, directly or through others)."""
        chain = self.within or ((str(Path(self.notebook).resolve()),) if self.notebook else ())
        check_cycle(chain, source, step)
        inner = Planner(read_notebook_cells(source.path), source.path, self.compute, self.envs,
                        modules=self.resolver, within=(*chain, source.identity), base=source.base)
        return inner.run()

    def bind(self, node: Step, name: str, cell: int) -> str | None:
        inputs: dict[str, str] = {}
        params: set[str] = set()
        resolve(self, node, name, cell, inputs, params, mode="strict")
        if name in inputs:
            return inputs[name]
        if name in params:
            return None
        raise binding_error(node.name, name, cell)

    def define_outputs(self, producers: dict[str, str], cell: int) -> None:
        for variable, producer in producers.items():
            self.symbols.define_step(producer, [cell], [variable], [], [variable], {})

    def resources_of(self, step: Step) -> dict[str, Any]:
        return step_resources(step, self.compute, self.envs)

    def facts(self, cells: list[Cell]) -> StepFacts:
        try:
            return step_facts(tuple(c.body for c in cells))
        except CellFailure as failure:
            cell = cells[failure.offset]
            if failure.module is not None:
                raise star_error(failure.module, cell, failure.error) from None
            raise syntax_error(cell, failure.error) from None  # type: ignore[arg-type]

    def plan_step(self, step: Step, cells: list[Cell]) -> None:
        facts = self.facts(cells)
        at = step.cells  # cell offset within the step -> notebook cell index
        symbols = self.symbols
        local_shared = facts.local_shared
        shared_names = symbols.shared_names

        def shared(name: str) -> bool:
            return name in local_shared or name in shared_names

        refs, defs = changes(self, facts, shared)
        if is_fanout(step.options):  # the loop binds the --as name; ITERABLE is read
            refs, defs = fanout_names(step.options, refs, defs)
        free_refs, writes = use_shared_code(self, step, facts, refs, defs)
        inputs, params = bind_reads(self, step, facts, refs, free_refs, shared)
        from_calls = [
            w for w, reads in writes.items()
            if not shared(w) and w not in KNOWN_NAMES and (not reads or w in inputs or w in defs)
        ] if writes else []
        if facts.opaque:
            offset, what = facts.opaque
            step.opaque = f"cell {cell_number(at[offset])} {what}"
            if step.options.inputs is None:
                for name, found in symbols.definitions.items():
                    if found.kind == "step" and not name.startswith("_"):
                        inputs.setdefault(name, found.step)  # type: ignore[arg-type]
            self.warnings.append(
                f"Step {step.name!r} is opaque ({step.opaque}): it runs after every earlier step and receives "
                "all their values."
            )
        step.inputs = sorted(inputs)
        step.input_sources = {n: inputs[n] for n in step.inputs}
        step.params = sorted(params)

        # outputs: what it binds or changes, except private names and shared code
        if step.options.outputs is not None:
            outputs = list(step.options.outputs)
            missing = [n for n in outputs if n not in defs and n not in from_calls and not step.opaque]
            if missing:
                self.warnings.append(
                    f"Step {step.name!r} declares --outputs {', '.join(missing)}, which its code does not "
                    "visibly assign; the run fails if it does not exist when the step ends."
                )
        elif defs is facts.defs and not from_calls:
            outputs = facts.outputs
        else:
            outputs = [n for n in defs if n[0] != "_" and n not in local_shared]
            outputs += [n for n in from_calls if n not in defs and n[0] != "_"]
        step.outputs = sorted(set(outputs))
        step.resources = step_resources(step, self.compute, self.envs)

        # what later steps see
        hidden = [n for n in defs if n not in local_shared and n not in step.outputs] if (
            step.options.outputs is not None or facts.private) else []
        symbols.define_step(step.name, at, step.outputs, hidden, defs, local_shared)
        aliases = self.aliases.record(step, facts, inputs)
        if aliases:
            step.aliases = aliases
        if step.opaque:
            self.last_opaque = step.name


def _parameter_sources(code: str) -> dict[str, tuple[str, Any]]:
    """A parameters cell's assignments: name -> (the statement, its literal value or None)."""
    tree = ast.parse(to_python(code)) if code.strip() else ast.Module(body=[], type_ignores=[])
    sources: dict[str, tuple[str, Any]] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and getattr(node, "value", None) is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            try:
                value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = None
            for target in targets:
                if isinstance(target, ast.Name):
                    sources[target.id] = (ast.unparse(node), value)
    return sources


def clear_caches() -> None:
    """Forget every cached analysis (cells, steps, step lines, star imports) and checkpoint: the next plan is cold."""
    analyze_cell.cache_clear()
    step_facts.cache_clear()
    TRACES.clear()
    star_names.cache_clear()
    star_defs.cache_clear()
    parse_step_line.cache_clear()
