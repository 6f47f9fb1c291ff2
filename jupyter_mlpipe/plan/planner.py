"""From classified cells to a step graph: Step, Edge, Pipeline and the planning rules.

The rules are PRODUCT.md section 3; docs/concepts.md explains them with
examples. Building the plan is separate from running it: a Pipeline is plain
data that the executor walks.

Re-planning is incremental at three levels: each cell's analysis is cached by
its text (analysis.analyze_cell), each step's combined facts by its cells'
texts (_step_facts), and the planner's state is checkpointed every
_CHECKPOINT_EVERY steps, so a re-plan resumes from the last checkpoint before
the first changed cell. Plans share Step objects with these checkpoints:
treat a Pipeline's steps as read-only.

This module holds the planner itself (`_Planner`, `build_plan`). The data model
(Param, Step, Edge, Pipeline) and the cycle check are in `pipeline.py`, the
per-step facts and `import *` names in `_step_analysis.py`, the checkpoints kept
for re-planning in `_replan.py`. Two groups of `_Planner`'s methods live in
mixins: name resolution and its errors in `_plan_resolve.py`, values changed in
place (through calls and aliases) in `_plan_aliases.py`.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterable

from .aliases import _AliasMixin
from .symbols import _KNOWN_NAMES, _Def, _ResolveMixin
from .replan import _MAX_TRACES, _STATE, _TRACES, _TRACES_LOCK, _copy_state, _signature, _Trace
from .steps import _CellFailure, _star_defs, _star_names, _step_facts, _StepFacts
from .cells import CellAnalysis, CellSyntaxError, SharedDef, analyze_cell
from ..errors import PlanError
from .notebook import Cell
from .options import parse_step_line
from .model import Edge, Param, Pipeline, Step, _check_acyclic

__all__ = ["Step", "Edge", "Param", "Pipeline", "build_plan", "clear_caches", "DEFAULT_COMPUTE"]

DEFAULT_COMPUTE: dict[str, dict[str, Any]] = {
    "cpu": {"num_cpus": 1},
    "gpu": {"num_cpus": 1, "num_gpus": 1},
}


# ---------------------------------------------------------------------------
# building


_CHECKPOINT_EVERY = 64  # items (preamble cells, parameters cells, steps) between checkpoints


class _Planner(_ResolveMixin, _AliasMixin):
    def __init__(self, cells: list[Cell], notebook: str | None, compute: dict[str, dict]) -> None:
        self.cells = cells
        self.notebook = notebook
        self.compute = compute
        self.table: dict[str, _Def] = {}
        self.steps: dict[str, Step] = {}
        self.params: dict[str, Param] = {}
        self.warnings: list[str] = []
        self.shared_pos: dict[SharedDef, tuple[int, int]] = {}  # notebook order of shared code
        self.groups: list[list[Cell]] = []
        self.last_opaque: str | None = None  # the latest opaque step
        self.shared_names: set[str] = set()  # names whose nearest definition is shared code
        self.shared_epoch = 0  # changes whenever a shared definition does
        self.closures: dict[tuple[frozenset[str], int], tuple] = {}
        # may-alias facts across steps: holder -> {(name it holds, step that produced that name)}
        self.alias_of: dict[str, frozenset[tuple[str, str]]] = {}
        self.held_by: dict[tuple[str, str], set[str]] = {}
        self.edge_cache: dict[int, tuple[Step, list[Edge]]] = {}

    # -- state checkpoints (incremental re-planning) --------------------------
    # The state after planning items 0..i-1 depends only on those items, so a
    # re-plan resumes from the latest checkpoint before the first changed item.
    # Every object reachable from the state is treated as immutable once made
    # (updates replace them), so a checkpoint is a set of shallow copies.
    def snapshot(self) -> dict[str, Any]:
        return _copy_state({key: getattr(self, key) for key in _STATE})

    def restore(self, state: dict[str, Any]) -> None:
        for key, value in _copy_state(state).items():
            setattr(self, key, value)
        self.closures = {}  # a cache keyed by shared_epoch, which goes back in time here

    def converged(self, trace: "_Trace", signatures: list[tuple], index: int, planned: list[str]) -> bool:
        """Does re-planning from `index` on repeat the previous plan? (Same items from here, same state.)"""
        old = trace.checkpoints.get(index)
        final = trace.checkpoints.get(len(signatures))
        if old is None or final is None or len(trace.signatures) != len(signatures):
            return False
        if trace.signatures[index:] != signatures[index:]:
            return False
        if list(self.steps) != list(old["steps"]):
            return False
        for key in ("table", "shared_names", "shared_pos", "params", "warnings", "last_opaque", "alias_of",
                    "held_by"):
            if getattr(self, key) != old[key]:
                return False
        # a step planned again must not have been changed later on (an opaque step gaining outputs)
        return all(final["steps"].get(n) is old["steps"].get(n) for n in planned)

    def steps_order_last(self) -> str:
        return next(reversed(self.steps))

    # -- helpers -----------------------------------------------------------
    def analyze(self, cell: Cell) -> CellAnalysis:
        try:
            return analyze_cell(cell.body)
        except CellSyntaxError as exc:
            raise self.syntax_error(cell, exc) from None

    def syntax_error(self, cell: Cell, exc: SyntaxError) -> PlanError:
        offset = 1 if cell.kind == "step" else 0
        line = (exc.lineno or 1) + offset
        where = f"step {cell.step!r}, " if cell.step else ""
        return PlanError(
            f"Syntax error in {where}cell {cell.index} line {line}: {exc.msg}.",
            step=cell.step,
            cell=cell.index,
            hint="Fix the code in that cell; the plan is made from the saved notebook.",
        )

    def star_error(self, module: str, cell: Cell, exc: BaseException) -> PlanError:
        where = f" (step {cell.step!r})" if cell.step else ""
        return PlanError(
            f"Cannot resolve `from {module} import *` in cell {cell.index}{where}: importing {module!r} "
            f"failed ({type(exc).__name__}: {exc}).",
            step=cell.step,
            cell=cell.index,
            variable="*",
            hint=f"Install the module, or import the names you use explicitly: from {module} import a, b.",
        )

    def place(self, sdef: SharedDef, cell: Cell) -> SharedDef:
        if sdef not in self.shared_pos:
            self.shared_pos[sdef] = (cell.index, len(self.shared_pos))
        return sdef

    def is_shared(self, name: str) -> bool:
        return name in self.shared_names

    def define(self, name: str, definition: _Def) -> None:
        self.table[name] = definition
        if definition.kind == "shared":
            self.shared_names.add(name)
            self.shared_epoch += 1
        elif name in self.shared_names:
            self.shared_names.discard(name)
            self.shared_epoch += 1

    def register_shared(self, sdefs: Iterable[SharedDef], cell: Cell) -> None:
        for sdef in sdefs:
            if sdef.kind == "setup":
                continue
            if sdef.name == "*":
                try:
                    stars = _star_defs(sdef.module or "", sdef.source)
                except Exception as exc:  # noqa: BLE001 - any import failure is a plan error
                    raise self.star_error(sdef.module or "", cell, exc) from None
                for star in stars:
                    self.define(star.name, _Def("shared", cell.index, shared=[self.place(star, cell)]))
                continue
            if sdef.kind == "const" and sdef.free and not all(self.is_const(n) for n in sdef.free):
                self.define(sdef.name, _Def("computed", cell.index))
                continue
            self.define(sdef.name, _Def("shared", cell.index, shared=[self.place(sdef, cell)]))

    def is_const(self, name: str) -> bool:
        found = self.table.get(name)
        if found is None:
            return False
        return found.kind == "param" or (found.kind == "shared" and any(s.kind == "const" for s in found.shared))

    def attach_setup(self, analysis: CellAnalysis, cell: Cell) -> set[str]:
        """Preamble lines like `np.random.seed(0)` travel with the module they configure."""
        handled = set()
        for name, source in analysis.setup:
            found = self.table.get(name)
            if found is not None and found.kind == "shared":
                sdef = self.place(SharedDef(name, "setup", source), cell)
                self.define(name, _Def("shared", found.cell, shared=[*found.shared, sdef]))
                handled.add(name)
        return handled

    # -- the walk ----------------------------------------------------------
    def run(self) -> "Pipeline":
        group: list[Cell] = []
        order: list[Cell | list[Cell]] = []
        for cell in self.cells:
            if cell.kind == "step":
                group = [cell]
                self.groups.append(group)
                order.append(group)
            elif cell.kind == "continuation" and group:
                group.append(cell)
            elif cell.kind in ("preamble", "parameters"):
                order.append(cell)
        signatures = [_signature(item) for item in order]
        trace_key = (self.notebook, repr(sorted(self.compute.items())))
        checkpoints: dict[int, dict[str, Any]] = {}
        start = 0
        with _TRACES_LOCK:
            trace = _TRACES.get(trace_key)
        if trace is not None:
            same = 0
            for old, new in zip(trace.signatures, signatures):
                if old != new:
                    break
                same += 1
            usable = [i for i in trace.checkpoints if i <= same]
            self.edge_cache = trace.edges
            if usable:
                start = max(usable)
                self.restore(trace.checkpoints[start])
                checkpoints = {i: c for i, c in trace.checkpoints.items() if i <= start}
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
                            checkpoints[index] = {**state, "steps": {n: fresh.get(n, s) for n, s in
                                                                     state["steps"].items()}}
                    self.restore(checkpoints[len(order)])
                    converged = True
                    break
                checkpoints[i] = self.snapshot()
            item = order[i]
            if isinstance(item, list):
                self.step_group(item)
                planned.append(self.steps_order_last())
            elif item.kind == "preamble":
                self.preamble(item)
            else:
                self.parameters(item)
        if not converged and len(order) not in checkpoints:
            checkpoints[len(order)] = self.snapshot()
        plan = self.finish()
        with _TRACES_LOCK:
            _TRACES[trace_key] = _Trace(signatures, checkpoints, self.edge_cache)
            _TRACES.move_to_end(trace_key)
            while len(_TRACES) > _MAX_TRACES:
                _TRACES.popitem(last=False)
        return plan

    def preamble(self, cell: Cell) -> None:
        analysis = self.analyze(cell)
        self.register_shared(analysis.shared, cell)
        handled = self.attach_setup(analysis, cell)
        for name in analysis.computed:
            if name not in handled:
                self.define(name, _Def("computed", cell.index))
        for name in analysis.mutated:
            if name not in handled and not self.is_shared(name):
                self.define(name, _Def("computed", cell.index))

    def parameters(self, cell: Cell) -> None:
        import ast

        analysis = self.analyze(cell)
        self.register_shared([s for s in analysis.shared if s.kind != "const"], cell)
        tree = ast.parse(_python_of(analysis.code)) if analysis.code.strip() else ast.Module(body=[], type_ignores=[])
        sources: dict[str, tuple[str, Any]] = {}
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and getattr(node, "value", None) is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    value = None
                for target in targets:
                    if isinstance(target, ast.Name):
                        sources[target.id] = (ast.unparse(node), value)
        for name in analysis.defs:
            source, value = sources.get(name, ("", None))
            self.params[name] = Param(name, source, value)
            self.define(name, _Def("param", cell.index))

    def step_group(self, cells: list[Cell]) -> None:
        head = cells[0]
        try:
            options = parse_step_line(head.step_line or "")
        except PlanError as exc:
            raise type(exc)(
                f"Cell {head.index}: {exc.message}", step=exc.step or head.step or None, cell=head.index,
                variable=exc.variable, hint=exc.hint,
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

    def facts(self, cells: list[Cell]) -> _StepFacts:
        try:
            return _step_facts(tuple(c.body for c in cells))
        except _CellFailure as failure:
            cell = cells[failure.offset]
            if failure.module is not None:
                raise self.star_error(failure.module, cell, failure.error) from None
            raise self.syntax_error(cell, failure.error) from None  # type: ignore[arg-type]

    def plan_step(self, step: Step, cells: list[Cell]) -> None:
        facts = self.facts(cells)
        at = step.cells  # cell offset within the step -> notebook cell index
        table = self.table
        local_shared = facts.local_shared
        shared_names = self.shared_names  # names whose nearest definition is shared code

        def shared(name: str) -> bool:
            return name in local_shared or name in shared_names

        refs, defs, mutated = facts.refs, facts.defs, facts.mutated
        if facts.ext_mutated:
            modules = [n for n in facts.ext_mutated if n in shared_names]  # `np.random.seed(0)`: not a value
            if modules:
                defs = {n: None for n in defs if n not in modules}
                mutated = mutated.difference(modules)
        if facts.calls:  # `fill_missing(train)` where fill_missing changes its argument in place
            changed = self.mutated_by_calls(facts, shared)
            if changed:
                refs = {**refs, **{n: o for n, o in changed.items() if n not in defs and n not in refs}}
                defs = {**defs, **{n: None for n in changed if n not in defs}}
                mutated = mutated.union(changed)
        if mutated and (facts.aliases or self.alias_of):
            refs, defs = self.mutate_through_aliases(facts, refs, defs, mutated, shared)

        # shared code this step uses (rule 4: functions carry their free variables, transitively)
        roots = facts.load_set.intersection(shared_names)
        if local_shared:
            roots = roots.union(n for n in local_shared if n in facts.loads)
        free_refs: dict[str, str] = {}  # name -> the function or class that reads it
        writes: dict[str, bool] = {}  # module globals changed by the functions called -> do they read it?
        if roots:
            closure = self.shared_closure(roots, local_shared)
            step.shared = list(closure[0])
            free_values, writes, names = closure[1], closure[2], closure[3]
            early = [n for n in local_shared if n in refs and n in shared_names]
            if early:  # called before this step redefines it: the earlier definition runs first
                before = self.shared_closure(frozenset(early), {})
                step.shared = self._ordered_shared({*before[0], *step.shared})
                free_values = {**before[1], **free_values}
                writes = {**before[2], **writes}
                names = names | before[3]
            step.shared_names = sorted(names)
            for free, via in free_values.items():
                if free not in defs or free in refs:
                    free_refs[free] = via

        # resolve the values it reads (rule 3: the nearest preceding definition)
        inputs: dict[str, str] = {}
        params: set[str] = set()
        resolve = self.resolve
        if step.options.inputs is not None:
            for name in step.options.inputs:
                if not shared(name):
                    resolve(step, name, at[0], inputs, params, mode="strict")
        else:
            for name, offset in refs.items():
                if name in local_shared or name in shared_names:
                    continue
                found = table.get(name)
                if found is not None and found.kind == "step":  # the common case, inline
                    inputs[name] = found.step  # type: ignore[assignment]
                else:
                    resolve(step, name, at[offset], inputs, params, mode="strict")
            for name, offset in facts.soft_refs.items():
                if name not in refs and not shared(name):
                    resolve(step, name, at[offset], inputs, params, mode="soft")
            for name, via in free_refs.items():
                if name not in refs and name not in inputs:
                    resolve(step, name, at[facts.loads.get(via, 0)], inputs, params, mode="free", via=via)
        from_calls = [
            w for w, reads in writes.items()
            if not shared(w) and w not in _KNOWN_NAMES and (not reads or w in inputs or w in defs)
        ] if writes else []
        if facts.opaque:
            offset, what = facts.opaque
            step.opaque = f"cell {at[offset]} {what}"
            if step.options.inputs is None:
                for name, found in table.items():
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
        step.resources = self.resources(step)

        # what later steps see
        first = at[0]
        hidden = [n for n in defs if n not in local_shared and n not in step.outputs] if (
            step.options.outputs is not None or facts.private) else ()
        if hidden:
            private = _Def("hidden", first, step=step.name, reason="private")
            dropped = _Def("hidden", first, step=step.name, reason="not in --outputs")
            for name in hidden:
                table[name] = private if name[0] == "_" else dropped
        produced = _Def("step", first, step=step.name)
        for name in step.outputs:
            table[name] = produced
        if shared_names:
            before = len(shared_names)
            shared_names.difference_update(defs)
            shared_names.difference_update(step.outputs)
            if len(shared_names) != before:
                self.shared_epoch += 1
        for name, (sdef, offset) in local_shared.items():
            table[name] = _Def("shared", at[offset], shared=[self.place(sdef, cells[offset])])
            shared_names.add(name)
        if local_shared:
            self.shared_epoch += 1
        self.record_aliases(step, facts, inputs)
        if step.opaque:
            self.last_opaque = step.name

    def shared_closure(self, roots: frozenset[str], local_shared: dict[str, tuple[SharedDef, int]]
                       ) -> tuple[tuple[SharedDef, ...], dict[str, str], dict[str, bool], frozenset[str]]:
        """The shared code reachable from `roots`, the value names it reads, the globals it changes.

        Cached while no shared definition changes (steps after the preamble
        mostly use the same imports and helpers).
        """
        key = (roots, self.shared_epoch)
        if not local_shared:
            cached = self.closures.get(key)
            if cached is not None:
                return cached
        table, shared_names = self.table, self.shared_names
        used: dict[int, SharedDef] = {}
        free_values: dict[str, str] = {}
        writes: dict[str, bool] = {}
        pending = list(roots)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            sdefs = [local_shared[name][0]] if name in local_shared else table[name].shared
            for sdef in sdefs:
                used[id(sdef)] = sdef
                for free in sdef.free:
                    if free in local_shared or free in shared_names:
                        if free not in seen:
                            pending.append(free)
                    else:
                        free_values.setdefault(free, name)
                for w in sdef.global_writes:
                    writes[w] = writes.get(w, False) or w in sdef.free
        result = (tuple(self._ordered_shared(used.values())), free_values, writes, frozenset(seen))
        if not local_shared:
            self.closures[key] = result
        return result

    def _ordered_shared(self, sdefs: Iterable[SharedDef]) -> list[SharedDef]:
        """Shared code in notebook order, each statement once."""
        result, seen = [], set()
        for sdef in sorted(sdefs, key=lambda d: self.shared_pos.get(d, (10**9, 0))):
            key = (sdef.kind == "setup", sdef.source)
            if key not in seen:
                seen.add(key)
                result.append(sdef)
        return result

    def resources(self, step: Step) -> dict[str, Any]:
        options = step.options
        target = options.compute or "cpu"
        if target not in self.compute:
            raise PlanError(
                f"Step {step.name!r} asks for --compute {target}, which is not a known compute target.",
                step=step.name, cell=step.cells[0], variable=target,
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
        """Edges from the steps' inputs, --after and opaque steps; checks --after targets and cycles."""
        order = {name: i for i, name in enumerate(self.steps)}
        old_cache, self.edge_cache = self.edge_cache, {}
        edges: list[Edge] = []
        for step in self.steps.values():
            for after in step.options.after:
                if after not in order:
                    raise PlanError(
                        f"Step {step.name!r} (cell {step.cells[0]}) runs --after {after!r}, but no step "
                        f"is called {after!r}.",
                        step=step.name, cell=step.cells[0], variable=after,
                        hint=f"Steps are: {', '.join(self.steps)}.",
                    )
            simple = not step.opaque and not step.options.after
            hit = old_cache.get(id(step)) if simple else None
            if hit is not None and hit[0] is step:  # a Step object reused from a checkpoint
                step_edges = hit[1]
            else:
                incoming: dict[str, set[str]] = {}
                for name, source in step.input_sources.items():
                    incoming.setdefault(source, set()).add(name)
                if step.opaque:
                    for other in self.steps.values():
                        if other.position < step.position:
                            incoming.setdefault(other.name, set())
                for after in step.options.after:
                    incoming.setdefault(after, set())
                step_edges = [Edge(source, step.name, tuple(sorted(incoming[source])))
                              for source in sorted(incoming, key=order.__getitem__)]
            if simple:
                self.edge_cache[id(step)] = (step, step_edges)
            edges.extend(step_edges)
        _check_acyclic(self.steps, edges)
        return Pipeline(self.steps, edges, self.params, self.notebook, self.warnings)


def _python_of(source: str) -> str:
    from .cells import _to_python

    return _to_python(source)


def clear_caches() -> None:
    """Forget every cached analysis (cells, steps, step lines, star imports): the next plan is cold."""
    analyze_cell.cache_clear()
    _step_facts.cache_clear()
    with _TRACES_LOCK:
        _TRACES.clear()
    _star_names.cache_clear()
    _star_defs.cache_clear()
    parse_step_line.cache_clear()


def build_plan(cells: list[Cell], *, notebook: str | None = None,
               compute: dict[str, dict] | None = None) -> Pipeline:
    """Plan classified cells (see notebook.classify)."""
    targets = dict(DEFAULT_COMPUTE)
    targets.update(compute or {})
    with _gc_paused():
        return _Planner(cells, notebook, targets).run()


@contextmanager
def _gc_paused():
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
