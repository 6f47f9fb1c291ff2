"""In-place changes the planner must follow: through the functions a step calls, and through aliases.

`train.fillna(0, inplace=True)` visibly changes `train`; `fill_missing(train)`
does too when `fill_missing` changes its parameter in place, and `for d in
[train, test]: d['x'] = 1` changes both `train` and `test` through the loop
variable. A value changed in place is read and written again by the step that
changes it. Aliases also cross steps (`combine = [train, test]` in one step,
the loop over `combine` in a later one): `AliasTracker` keeps those may-alias
facts as the planner walks the steps.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import Step
from .step_facts import StepFacts
from .symbols import KNOWN_NAMES, SymbolView

__all__ = ["AliasTracker", "mutated_by_calls"]

Pair = tuple[str, str]  # (a value name, the step that produced it)


def mutated_by_calls(facts: StepFacts, shared: Callable[[str], bool], symbols: SymbolView) -> dict[str, int]:
    """Arguments changed in place by the functions the step calls -> the cell offset of the call.

    `fill_missing(train)`, where `fill_missing` (shared code) changes its parameter in place. `shared`
    tells the step's shared names, which are not values.
    """
    changed: dict[str, int] = {}
    for offset, function, args in facts.calls:
        if function in facts.local_shared:
            sdef = facts.local_shared[function][0]
        else:
            found = symbols.definitions.get(function)
            if found is None or found.kind != "shared" or not found.shared:
                continue
            sdef = found.shared[0]
        if not sdef.mutated_params:
            continue
        for key, arg in args:
            param = sdef.params[key] if isinstance(key, int) and key < len(sdef.params) else key
            if param in sdef.mutated_params and not shared(arg) and arg not in KNOWN_NAMES:
                changed.setdefault(arg, offset)
    return changed


class AliasTracker:
    """May-alias facts across steps: which outputs may hold which earlier values.

    `alias_of` maps a holder to the (value, producing step) pairs it may hold;
    `held_by` is the reverse. Both change only through `record`; a checkpoint
    takes a `copy`.
    """

    def __init__(self) -> None:
        self.alias_of: dict[str, frozenset[Pair]] = {}
        self.held_by: dict[Pair, set[str]] = {}

    def copy(self) -> AliasTracker:
        other = AliasTracker()
        other.alias_of = self.alias_of.copy()
        other.held_by = {k: set(v) for k, v in self.held_by.items()}
        return other

    def same_as(self, other: AliasTracker) -> bool:
        return self.alias_of == other.alias_of and self.held_by == other.held_by

    def mutate_through_aliases(self, facts: StepFacts, refs: dict[str, int], defs: dict[str, None],
                               mutated: frozenset[str], shared: Callable[[str], bool], symbols: SymbolView
                               ) -> tuple[dict[str, int], dict[str, None]]:
        """`for d in [train, test]: d['x'] = 1` changes train and test: they are read and redefined here.

        Within the step through its own aliases; across steps through what
        earlier steps recorded (`combine = [train, test]` in one step, the loop in
        a later one).
        """
        table = symbols.definitions
        changed = set(mutated)
        stack = list(mutated)
        new_refs: dict[str, int] = {}
        new_defs: list[str] = []
        while stack:
            name = stack.pop()
            targets = set(facts.aliases.get(name, ()))
            if name in refs or name not in defs:  # the value comes from an earlier step
                found = table.get(name)
                if found is not None and found.kind == "step":
                    for held, producer in self.alias_of.get(name, ()):
                        d = table.get(held)
                        if d is not None and d.kind == "step" and d.step == producer:
                            targets.add(held)
                    for holder in self.held_by.get((name, found.step), ()):  # type: ignore[arg-type]
                        if (name, found.step) in self.alias_of.get(holder, ()):
                            d = table.get(holder)
                            if d is not None and d.kind == "step":
                                targets.add(holder)
            for target in targets:
                if target in changed or shared(target) or target in KNOWN_NAMES:
                    continue
                changed.add(target)
                stack.append(target)
                if target not in defs:
                    new_refs.setdefault(target, 0)
                    new_defs.append(target)
        if not new_defs:
            return refs, defs
        refs = {**refs, **{n: o for n, o in new_refs.items() if n not in refs}}
        defs = {**defs, **{n: None for n in new_defs}}
        return refs, defs

    def record(self, step: Step, facts: StepFacts, inputs: dict[str, str]) -> dict[str, list[str]]:
        """Remember which of the step's outputs may hold other values, for changes in later steps.

        `inputs` maps the step's inputs to the steps that produce them. Returns
        the step's own alias facts (value -> the values it may hold or share).
        """
        outputs = set(step.outputs)
        aliases: dict[str, set[str]] = {}
        recorded: dict[str, frozenset[Pair]] = {}
        for name in [n for n in facts.aliases if n in outputs or n in inputs]:
            pairs: set[Pair] = set()
            stack, seen = [name], {name}
            while stack:
                current = stack.pop()
                for target in facts.aliases.get(current, ()):
                    if target in seen:
                        continue
                    seen.add(target)
                    stack.append(target)
                    if target in outputs:
                        pairs.add((target, step.name))
                    elif target in inputs:
                        pairs.add((target, inputs[target]))
                        pairs.update(self.alias_of.get(target, ()))
            pairs.discard((name, step.name))
            if pairs:
                aliases[name] = {t for t, _ in pairs}
                if name in outputs:
                    recorded[name] = frozenset(pairs)
        # An input this step outputs again may be the same object, changed in place: the
        # containers that held it (and that it held) keep holding it, now from this step.
        for name in outputs & inputs.keys():
            old_pair, new_pair = (name, inputs[name]), (name, step.name)
            for holder in self.held_by.pop(old_pair, set()):
                if holder in self.alias_of:
                    self.alias_of[holder] = (self.alias_of[holder] - {old_pair}) | {new_pair}
                    self.held_by.setdefault(new_pair, set()).add(holder)
        if self.alias_of:
            for name in self.alias_of.keys() & outputs:
                kept = self.alias_of.pop(name)
                for pair in kept:
                    holders = self.held_by.get(pair)
                    if holders is not None:
                        holders.discard(name)
                if name in inputs and name not in recorded:
                    recorded[name] = frozenset((held, step.name) if held in outputs else (held, producer)
                                               for held, producer in kept)
        for name, pairs in recorded.items():
            self.alias_of[name] = pairs
            for pair in pairs:
                self.held_by.setdefault(pair, set()).add(name)
        return {n: sorted(v) for n, v in sorted(aliases.items())} if aliases else {}
