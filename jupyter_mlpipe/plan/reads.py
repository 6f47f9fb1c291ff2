"""What a step reads and changes, bound to definitions: its inputs, its parameters and the shared code it replays.

PRODUCT.md section 3, rules 3 and 4: every name a step reads is bound to the
nearest earlier definition (a step's output, a parameter, shared code), and
functions carry their free variables, transitively. A value the step changes
in place (directly, through a called function, or through an alias) is both
read and defined by it. A name no earlier item defines is the latest opaque
step's output, a warning (read only through a function), or a `PlanError`.

The planner (`planner.Planner`) calls these with itself, as the `ReadingPlanner` it is;
they read its symbol table and alias tracker and add to its steps and warnings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from .aliases import AliasTracker, mutated_by_calls
from .diagnostics import Reader, undefined_error
from .model import Step
from .notebook import Cell
from .step_facts import StepFacts
from .symbols import KNOWN_NAMES, Definition, ReadMode, SymbolTable, UndefinedName

__all__ = ["ReadingPlanner", "bind_reads", "changes", "resolve", "use_shared_code"]


class ReadingPlanner(Protocol):
    """The planner's state that binding a step's reads uses (and, for an undefined name, changes)."""

    cells: list[Cell]
    groups: list[list[Cell]]  # the cells of each step, for error messages
    steps: dict[str, Step]
    warnings: list[str]
    last_opaque: str | None  # the latest opaque step
    symbols: SymbolTable
    aliases: AliasTracker


def changes(planner: ReadingPlanner, facts: StepFacts, shared: Callable[[str], bool]
            ) -> tuple[dict[str, int], dict[str, None]]:
    """The names the step reads and binds, counting the values it changes in place (calls, aliases).

    Returns `facts.refs` and `facts.defs` themselves when nothing is added.
    """
    refs, defs, mutated = facts.refs, facts.defs, facts.mutated
    if facts.ext_mutated:
        shared_names = planner.symbols.shared_names
        modules = [n for n in facts.ext_mutated if n in shared_names]  # `np.random.seed(0)`: not a value
        if modules:
            defs = {n: None for n in defs if n not in modules}
            mutated = mutated.difference(modules)
    if facts.calls:  # `fill_missing(train)` where fill_missing changes its argument in place
        changed = mutated_by_calls(facts, shared, planner.symbols)
        if changed:
            refs = {**refs, **{n: o for n, o in changed.items() if n not in defs and n not in refs}}
            defs = {**defs, **{n: None for n in changed if n not in defs}}
            mutated = mutated.union(changed)
    if mutated and (facts.aliases or planner.aliases.alias_of):
        refs, defs = planner.aliases.mutate_through_aliases(facts, refs, defs, mutated, shared, planner.symbols)
    return refs, defs


def use_shared_code(planner: ReadingPlanner, step: Step, facts: StepFacts, refs: dict[str, int],
                    defs: dict[str, None]) -> tuple[dict[str, str], dict[str, bool]]:
    """Set the shared code the step replays (rule 4: functions carry their free variables, transitively).

    Returns the values that code reads (-> the function or class reading it)
    and the module globals it changes (-> whether it also reads them).
    """
    symbols = planner.symbols
    local_shared = facts.local_shared
    shared_names = symbols.shared_names
    roots = facts.load_set.intersection(shared_names)
    if local_shared:
        roots = roots.union(n for n in local_shared if n in facts.loads)
    if not roots:
        return {}, {}
    closure = symbols.shared_closure(roots, local_shared)
    own_imports = {id(entry) for entry, _ in local_shared.values() if entry.kind == "import"}
    # the step's own imports run in its own code, in order (after a `sys.path.append` it makes)
    step.shared = [sdef for sdef in closure.code if id(sdef) not in own_imports]
    free_values, writes, names = closure.free_values, closure.writes, closure.names
    early = [n for n in local_shared if n in refs and n in shared_names]
    if early:  # called before this step redefines it: the earlier definition runs first
        before = symbols.shared_closure(frozenset(early), {})
        step.shared = symbols.ordered_shared({*before.code, *step.shared})
        free_values = {**before.free_values, **free_values}
        writes = {**before.writes, **writes}
        names = names | before.names
    step.shared_names = sorted(names)
    free_refs = {free: via for free, via in free_values.items() if free not in defs or free in refs}
    return free_refs, writes


def bind_reads(planner: ReadingPlanner, step: Step, facts: StepFacts, refs: dict[str, int],
               free_refs: dict[str, str], shared: Callable[[str], bool]) -> tuple[dict[str, str], set[str]]:
    """Bind the values the step reads (rule 3: the nearest preceding definition): its inputs
    (-> the producing step) and its parameters."""
    at = step.cells
    inputs: dict[str, str] = {}
    params: set[str] = set()
    if step.options.inputs is not None:
        for name in step.options.inputs:
            if not shared(name):
                resolve(planner, step, name, at[0], inputs, params, mode="strict")
        return inputs, params
    symbols = planner.symbols
    table, local_shared, shared_names = symbols.definitions, facts.local_shared, symbols.shared_names
    for name, offset in refs.items():
        if name in local_shared or name in shared_names:
            continue
        found = table.get(name)  # the common cases inline; SymbolTable.binding decides the others
        if found is None:
            if name not in KNOWN_NAMES:
                resolve(planner, step, name, at[offset], inputs, params, mode="strict")
        elif found.kind == "step":
            inputs[name] = found.step  # type: ignore[assignment]
        elif found.kind == "param":
            params.add(name)
        else:
            resolve(planner, step, name, at[offset], inputs, params, mode="strict")
    for name, offset in facts.soft_refs.items():
        if name not in refs and not shared(name):
            resolve(planner, step, name, at[offset], inputs, params, mode="soft")
    for name, via in free_refs.items():
        if name not in refs and name not in inputs:
            resolve(planner, step, name, at[facts.loads.get(via, 0)], inputs, params, mode="free", via=via)
    return inputs, params


def resolve(planner: ReadingPlanner, step: Step, name: str, cell: int, inputs: dict[str, str], params: set[str],
            *, mode: ReadMode, via: str | None = None) -> None:
    """Bind one name the step reads in notebook cell `cell` (through the function `via`, if given)."""
    try:
        found = planner.symbols.binding(name, step.name, cell, mode=mode, via=via)
    except UndefinedName:
        _undefined(planner, step, name, Reader(step.name, cell, via), inputs, mode)
        return
    if found is None:
        return
    if found.kind == "step":
        inputs[name] = found.step  # type: ignore[assignment]
    else:
        params.add(name)


def _undefined(planner: ReadingPlanner, step: Step, name: str, reader: Reader, inputs: dict[str, str],
               mode: ReadMode) -> None:
    """A name no earlier item defines: the latest opaque step's output, a warning, or an error."""
    if planner.last_opaque is not None:
        old = planner.steps[planner.last_opaque]
        opaque = dataclasses.replace(old, outputs=sorted({*old.outputs, name}))  # steps are never changed
        planner.steps[opaque.name] = opaque
        planner.symbols.define(name, Definition("step", opaque.cells[0], step=opaque.name))
        inputs[name] = opaque.name
        planner.warnings.append(
            f"{reader} uses {name!r}, which no step visibly defines; assuming the opaque step "
            f"{opaque.name!r} does."
        )
        return
    if mode == "free":
        planner.warnings.append(f"{reader} reads {name!r}, which no earlier cell defines.")
        return
    raise undefined_error(name, reader, step.cells[0], planner.cells, planner.groups)
